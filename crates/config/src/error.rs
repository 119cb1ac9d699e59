//! Typed errors of configuration loading and writing.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{origin}: `{key}` {problem}")]
    Invalid {
        key: String,
        origin: String,
        problem: String,
    },
    #[error(
        "profile `{0}` is not defined in any configuration file; define `[profile.{0}]` or drop --profile"
    )]
    UnknownProfile(String),
    #[error("invalid key `{key}`: {problem}")]
    BadKey { key: String, problem: String },
}
