//! Micro-plugin declarations: `[[micro]]` entries in `plugin.toml`, each a
//! single typed handler with its kind, isolation and JSON Schemas.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::ids::MicroId;

/// What a micro-plugin is for. The kind says how pipelines may use it: a
/// validator can guard a conditional step, a hook sees output on its way to
/// the user, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MicroKind {
    CommandEnhancer,
    Validator,
    Transformer,
    Formatter,
    Hook,
    Utility,
}

impl MicroKind {
    pub const ALL: [MicroKind; 6] = [
        Self::CommandEnhancer,
        Self::Validator,
        Self::Transformer,
        Self::Formatter,
        Self::Hook,
        Self::Utility,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CommandEnhancer => "command-enhancer",
            Self::Validator => "validator",
            Self::Transformer => "transformer",
            Self::Formatter => "formatter",
            Self::Hook => "hook",
            Self::Utility => "utility",
        }
    }
}

impl fmt::Display for MicroKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MicroKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown micro-plugin kind `{text}`; expected one of: command-enhancer, \
                     validator, transformer, formatter, hook, utility"
                )
            })
    }
}

/// How far a micro-plugin is isolated from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Native Rust compiled into the host: trusted by construction. Never
    /// declared in a manifest.
    None,
    /// A WASM component with the host interfaces its permissions grant.
    Limited,
    /// A WASM component with no host interface at all: pure computation.
    Strict,
}

impl Isolation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Limited => "limited",
            Self::Strict => "strict",
        }
    }
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Isolation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "limited" => Ok(Self::Limited),
            "strict" => Ok(Self::Strict),
            "none" => Err(
                "isolation `none` is only for native handlers compiled into the host; a \
                 plugin's micro-plugin is `limited` or `strict`"
                    .to_owned(),
            ),
            other => Err(format!(
                "unknown isolation `{other}`; expected `limited` or `strict`"
            )),
        }
    }
}

/// One `[[micro]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct MicroSpec {
    pub id: MicroId,
    pub kind: MicroKind,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub isolation: Isolation,
    /// JSON Schema the input must satisfy; `None` accepts any JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<serde_json::Value>,
    /// JSON Schema the output satisfies; `None` promises nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<serde_json::Value>,
    /// Its output depends only on its input (and its build, grants and
    /// configuration), so the host may answer from the result cache
    /// without running it (`pure = true`).
    #[serde(skip_serializing_if = "crate::manifest::is_false")]
    pub pure: bool,
}
