//! What can go wrong reaching a registry, sorted so the CLI can tell the
//! user's mistakes (a 4xx, an unknown plugin) from the network's or the
//! registry's. No message echoes a token.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("could not {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The registry could not be reached, or its answer could not be read.
    #[error("{0}")]
    Client(String),
    /// The registry has no such plugin or version (404).
    #[error("{0}")]
    NotFound(String),
    /// The registry refused a request; `message` is the server's own.
    #[error("the registry refused ({status}): {message}")]
    Remote { status: u16, message: String },
    /// A download that verified against the index failed a check after it
    /// (its signature, under the user's trusted keys).
    #[error("refused: {0}")]
    Refused(String),
    /// A release of lord signed by another key than the one pinned for its
    /// registry (by the first update from it).
    #[error(transparent)]
    ReleaseKeyChanged(Box<ReleaseKeyChanged>),
    /// The release key pin of a registry is not a public key.
    #[error(
        "the release key pin {} is damaged ({source}); remove it, and the next update pins the \
         key of the release it installs",
        pin.display()
    )]
    ReleaseKeyPinDamaged {
        pin: PathBuf,
        #[source]
        source: Box<lord_package::PackageError>,
    },
    /// The release key pinned for a registry is not among the user's
    /// trusted keys (a key with the same short id may be: it is another).
    #[error(
        "lord's releases from this registry are pinned to key {id} ({name}), which is not among \
         your trusted keys (a trusted key with that id, if any, is another key): trust it again \
         with `lord key trust {}`",
        pin.display()
    )]
    ReleaseKeyUntrusted {
        id: String,
        name: String,
        pin: PathBuf,
    },
    /// The signed index failed verification.
    #[error("the registry's signed index was refused: {0}")]
    Tuf(#[from] crate::tuf::TufError),
}

impl ClientError {
    /// True when the request was at fault (the registry answered 4xx), not
    /// the machine, the network or the registry.
    pub fn is_user_error(&self) -> bool {
        match self {
            ClientError::NotFound(_) => true,
            ClientError::Remote { status, .. } => (400..500).contains(status),
            ClientError::Io { .. }
            | ClientError::Client(_)
            | ClientError::Refused(_)
            | ClientError::ReleaseKeyChanged(_)
            | ClientError::ReleaseKeyPinDamaged { .. }
            | ClientError::ReleaseKeyUntrusted { .. }
            | ClientError::Tuf(_) => false,
        }
    }
}

pub(crate) fn io(
    action: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> ClientError {
    let path = path.to_path_buf();
    move |source| ClientError::Io {
        action,
        path,
        source,
    }
}

/// A release of lord offered under another key than the one pinned for
/// its registry (boxed in [`ClientError`], which stays small).
#[derive(Debug, thiserror::Error)]
#[error(
    "lord {version} for {platform} is signed by key {offered}, but lord's releases from this \
     registry are signed by key {pinned} (pinned by the first update, in {}). A trusted key is \
     not enough to replace lord. If lord's developers announced a new release key and you \
     checked it with them, remove {} and update again",
    pin.display(),
    pin.display()
)]
pub struct ReleaseKeyChanged {
    pub version: String,
    pub platform: String,
    pub offered: String,
    pub pinned: String,
    pub pin: PathBuf,
}
