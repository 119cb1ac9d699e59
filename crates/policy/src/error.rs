//! What can go wrong loading policies or asking them.

/// A policy file that cannot be used, or a question that cannot be asked.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy file {file}: {message}")]
    Parse { file: String, message: String },
    #[error(
        "policy file {file}: {message}\n  (policies are checked against lord's schema: `lord policy schema` prints it)"
    )]
    Invalid { file: String, message: String },
    #[error("groups file {file}: {message}")]
    Groups { file: String, message: String },
    #[error("`{0}` is not an action; actions are install, update, enable, grant, run and publish")]
    UnknownAction(String),
    #[error("could not ask the policies: {0}")]
    Request(String),
}
