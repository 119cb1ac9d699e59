//! Typed errors of the development kit. Each says what failed and what to
//! do next.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DevkitError {
    #[error("could not {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The author asked for something that cannot be made.
    #[error("{0}")]
    Usage(String),
    /// A build tool ran and failed; the log is its last lines.
    #[error("{tool} failed in `{dir}`:\n{log}")]
    Tool {
        tool: String,
        dir: PathBuf,
        log: String,
    },
    /// A tool could not be started at all.
    #[error("could not run `{tool}`: {reason}")]
    Missing { tool: String, reason: String },
    #[error(transparent)]
    Write(#[from] lord_file::WriteError),
    #[error(transparent)]
    Host(#[from] lord_host::HostError),
    #[error("template `{name}`: {source}")]
    Template {
        name: String,
        #[source]
        source: minijinja::Error,
    },
}

impl DevkitError {
    pub(crate) fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }

    /// True when the author's input is at fault, not the machine.
    pub fn is_user_error(&self) -> bool {
        match self {
            Self::Usage(_) | Self::Tool { .. } => true,
            Self::Host(e) => e.is_user_error(),
            Self::Io { .. } | Self::Write(_) | Self::Missing { .. } | Self::Template { .. } => {
                false
            }
        }
    }
}
