//! A package's declared test cases, `tests/cases.toml`: commands to run
//! against a build and what they must answer. `lord plugin update` runs
//! them against the new build and switches back if one fails.
//!
//! ```toml
//! [[case]]
//! name = "greets by name"
//! command = "hello"
//! args = { name = ["World"] }
//! stdout = "Hello, World!\n"     # exact output; or `contains = "..."`
//! # fails = true                 # the command must fail instead
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::HostError;

/// The file a package declares its cases in.
pub const CASES_FILE: &str = "tests/cases.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default, rename = "case")]
    cases: Vec<TestCase>,
}

/// One declared case.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub name: String,
    pub command: String,
    #[serde(default)]
    pub args: BTreeMap<String, Vec<String>>,
    /// The exact output expected.
    pub stdout: Option<String>,
    /// Text the output must contain.
    pub contains: Option<String>,
    /// The command must fail.
    #[serde(default)]
    pub fails: bool,
}

/// The cases declared in the package unpacked at `dir` (none when it has
/// no cases file).
pub(crate) fn read_cases(dir: &Path) -> Result<Vec<TestCase>, HostError> {
    let path = dir.join(CASES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(HostError::Io {
                action: "read",
                path,
                source,
            });
        }
    };
    let file: CaseFile = toml::from_str(&text).map_err(|e| {
        HostError::Resolve(format!(
            "the package's `{CASES_FILE}` is not valid: {}",
            e.message()
        ))
    })?;
    Ok(file.cases)
}

impl TestCase {
    /// Checks a run's result against the case; `Err` says how it missed.
    pub fn judge(&self, result: &Result<String, String>) -> Result<(), String> {
        match (result, self.fails) {
            (Err(error), false) => Err(format!("it failed: {error}")),
            (Ok(_), true) => Err("it succeeded but the case expects a failure".to_owned()),
            (Err(_), true) => Ok(()),
            (Ok(output), false) => {
                if let Some(expected) = &self.stdout
                    && output != expected
                {
                    return Err(format!("it printed {output:?}, expected {expected:?}"));
                }
                if let Some(needle) = &self.contains
                    && !output.contains(needle)
                {
                    return Err(format!("its output {output:?} lacks {needle:?}"));
                }
                Ok(())
            }
        }
    }
}
