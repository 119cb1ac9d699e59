//! Typed errors of the store.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the plugin store database failed: {0}; if it persists, check `$LORD_HOME/lord.db`")]
    Db(#[from] rusqlite::Error),
    #[error("could not {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("plugin `{0}` is already installed; remove it first with `lord plugin remove {0}`")]
    AlreadyInstalled(String),
    #[error("plugin `{0}` is not installed; see `lord plugin list`")]
    NotInstalled(String),
    #[error(
        "command `{command}` is already provided by plugin `{owner}`; two plugins cannot \
         declare the same command, so remove `{owner}` or pick another plugin"
    )]
    CommandTaken { command: String, owner: String },
    #[error(
        "micro-plugin `{micro}` is already provided by plugin `{owner}`; two plugins cannot \
         declare the same micro-plugin id"
    )]
    MicroTaken { micro: String, owner: String },
    #[error(
        "plugin `{0}` has no earlier build to return to; old builds are kept when an update \
         or reinstall replaces one"
    )]
    NoPrevious(String),
    #[error("the store holds a record it cannot read ({0}); the database may be from a newer lord")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    }
}
