//! A plugin's declared test cases, `tests/cases.toml`: commands or
//! micro-plugin calls to run against a build and what they must answer.
//! `lord pdk test` runs them (with generated security and property cases
//! around them); `lord plugin update` runs them against a new build and
//! switches back if one fails.
//!
//! ```toml
//! [[case]]
//! name = "greets by name"
//! command = "hello"
//! args = { name = ["World"] }
//! stdout = "Hello, World!\n"     # exact output; or `contains = "..."`
//! example = true                 # shown (and so tested) in the docs
//!
//! [[case]]
//! name = "shouts"
//! micro = "text.upper"           # a micro-plugin call instead of a command
//! input = "hi"                   # JSON input
//! output = "HI"                  # the JSON it must return
//!
//! [[case]]
//! name = "refuses without the key"
//! command = "count"
//! grants = []                    # default: everything plugin.toml requests
//! error = "state-shared"         # must fail, with this in the error
//!
//! [[case]]
//! name = "counts fast"
//! kind = "performance"
//! command = "count"
//! iterations = 50
//! budget-ms = 20                 # slowest call
//! budget-mib = 8                 # most memory held
//!
//! [[case]]
//! name = "tally hears the count"
//! kind = "integration"
//! plugins = ["../tally"]         # installed first (folders, relative)
//! shared = { counter = "41" }    # shared values set first
//! command = "count"
//! publishes = ["notes.counted"]  # topics the run must publish
//!
//! [[case]]
//! name = "reads a Cargo workspace"
//! project = "projects/cargo"     # copied in as the project first
//! command = "workspace"
//! contains = "Cargo"
//! ```
//!
//! A case with `project` runs only where lord owns the project folder
//! (`lord pdk test`); `lord plugin update` skips it rather than run it
//! against the user's own project.

use std::collections::BTreeMap;
use std::path::Path;

use lord_manifest::Manifest;
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

/// What a case exercises.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseKind {
    /// One call under chosen grants.
    #[default]
    Unit,
    /// A call with other plugins, shared state and events around it.
    Integration,
    /// Repeated calls held to a time and memory budget.
    Performance,
}

/// One declared case.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TestCase {
    pub name: String,
    #[serde(default)]
    pub kind: CaseKind,
    /// The command to run (or `micro`).
    pub command: Option<String>,
    #[serde(default)]
    pub args: BTreeMap<String, Vec<String>>,
    /// The micro-plugin to call (or `command`).
    pub micro: Option<String>,
    /// The micro-plugin's JSON input.
    pub input: Option<serde_json::Value>,
    /// The JSON a micro-plugin must return.
    pub output: Option<serde_json::Value>,
    /// The exact output expected.
    pub stdout: Option<String>,
    /// Text the output must contain.
    pub contains: Option<String>,
    /// The call must fail.
    #[serde(default)]
    pub fails: bool,
    /// The call must fail with this text in its error.
    pub error: Option<String>,
    /// The permissions granted for this case (default: all requested).
    pub grants: Option<Vec<String>>,
    /// Shown in the generated docs; a documented example is a tested one.
    #[serde(default)]
    pub example: bool,
    /// Other plugin folders to install first (integration).
    #[serde(default)]
    pub plugins: Vec<String>,
    /// Shared values to set first, as text (integration).
    #[serde(default)]
    pub shared: BTreeMap<String, String>,
    /// Topics the run must publish on (integration).
    #[serde(default)]
    pub publishes: Vec<String>,
    /// A folder (relative to the plugin's) whose copy is the project
    /// (`$PROJECT`) for this case.
    pub project: Option<String>,
    /// Performance: how many calls (default 20).
    pub iterations: Option<u32>,
    /// Performance: the slowest call allowed, in milliseconds.
    pub budget_ms: Option<u64>,
    /// Performance: the most linear memory allowed, in MiB.
    pub budget_mib: Option<u64>,
}

/// What a case calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    Command(&'a str),
    Micro(&'a str),
}

impl TestCase {
    /// A command case with nothing else set.
    pub fn command(name: &str, command: &str, args: BTreeMap<String, Vec<String>>) -> Self {
        Self {
            name: name.to_owned(),
            kind: CaseKind::Unit,
            command: Some(command.to_owned()),
            args,
            micro: None,
            input: None,
            output: None,
            stdout: None,
            contains: None,
            fails: false,
            error: None,
            grants: None,
            example: false,
            plugins: Vec::new(),
            shared: BTreeMap::new(),
            publishes: Vec::new(),
            project: None,
            iterations: None,
            budget_ms: None,
            budget_mib: None,
        }
    }

    /// A micro-plugin case with nothing else set.
    pub fn micro(name: &str, micro: &str, input: serde_json::Value) -> Self {
        Self {
            command: None,
            micro: Some(micro.to_owned()),
            input: Some(input),
            ..Self::command(name, "", BTreeMap::new())
        }
    }

    /// What the case calls; a case naming both or neither is refused when
    /// the file is read.
    pub fn target(&self) -> Target<'_> {
        match (&self.command, &self.micro) {
            (_, Some(micro)) => Target::Micro(micro),
            (Some(command), None) => Target::Command(command),
            (None, None) => Target::Command(""),
        }
    }

    /// Whether the case expects a failure.
    pub fn expects_failure(&self) -> bool {
        self.fails || self.error.is_some()
    }

    /// Checks a run's result against the case; `Err` says how it missed.
    pub fn judge(&self, result: &Result<String, String>) -> Result<(), String> {
        match (result, self.expects_failure()) {
            (Err(error), false) => Err(format!("it failed: {error}")),
            (Ok(output), true) => Err(format!(
                "it succeeded (printing {output:?}) but the case expects a failure"
            )),
            (Err(error), true) => match &self.error {
                Some(needle) if !error.contains(needle.as_str()) => Err(format!(
                    "it failed, but with {error:?}, which lacks {needle:?}"
                )),
                Some(_) | None => Ok(()),
            },
            (Ok(output), false) => {
                if let Some(expected) = &self.stdout
                    && output != expected
                {
                    return Err(format!("it printed {output:?}, expected {expected:?}"));
                }
                if let Some(needle) = &self.contains
                    && !output.contains(needle.as_str())
                {
                    return Err(format!("its output {output:?} lacks {needle:?}"));
                }
                if let Some(expected) = &self.output {
                    let actual: serde_json::Value = serde_json::from_str(output)
                        .map_err(|e| format!("it returned {output:?}, which is not JSON: {e}"))?;
                    if &actual != expected {
                        return Err(format!("it returned {actual}, expected {expected}"));
                    }
                }
                Ok(())
            }
        }
    }
}

/// Refuses a case that runs anything but `manifest`'s own commands and
/// micro-plugins. An update runs its package's cases in the user's own
/// home, where a command is found by name among every installed plugin:
/// a case naming another plugin's command would run it under that
/// plugin's grants, with arguments the package's author chose.
pub(crate) fn own_targets(manifest: &Manifest, cases: &[TestCase]) -> Result<(), HostError> {
    for case in cases {
        let (kind, name, own) = match case.target() {
            Target::Command(command) => (
                "command",
                command,
                manifest.commands.iter().any(|c| c.name.as_str() == command),
            ),
            Target::Micro(id) => (
                "micro-plugin",
                id,
                manifest.micro.iter().any(|m| m.id.as_str() == id),
            ),
        };
        if !own {
            return Err(HostError::Cases(format!(
                "`{CASES_FILE}` is not valid: case `{}` runs the {kind} `{}`, which `{}` does \
                 not declare; a package's cases may run only its own commands and micro-plugins",
                case.name.escape_debug(),
                name.escape_debug(),
                manifest.plugin.id
            )));
        }
    }
    Ok(())
}

/// The cases declared in the plugin or package at `dir` (none when it has
/// no cases file).
pub fn read_cases(dir: &Path) -> Result<Vec<TestCase>, HostError> {
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
    let invalid =
        |message: String| HostError::Cases(format!("`{CASES_FILE}` is not valid: {message}"));
    let file: CaseFile = toml::from_str(&text).map_err(|e| invalid(e.message().to_owned()))?;
    for case in &file.cases {
        match (&case.command, &case.micro) {
            (Some(_), None) | (None, Some(_)) => {}
            (Some(_), Some(_)) => {
                return Err(invalid(format!(
                    "case `{}` names both a command and a micro-plugin; give one",
                    case.name
                )));
            }
            (None, None) => {
                return Err(invalid(format!(
                    "case `{}` names neither `command` nor `micro`",
                    case.name
                )));
            }
        }
    }
    Ok(file.cases)
}
