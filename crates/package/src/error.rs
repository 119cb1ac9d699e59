//! Typed errors of packing, unpacking, keys and signatures. Each says which
//! check failed and what to do; none carries a secret key.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("could not {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Manifest(#[from] lord_manifest::ManifestError),
    /// The folder cannot be packed as it is.
    #[error("cannot pack `{path}`: {problem}")]
    Unpackable { path: PathBuf, problem: String },
    /// An archive entry or the archive as a whole breaks a rule; nothing
    /// was installed.
    #[error("refused package: {0}")]
    Refused(String),
    /// The archive cannot be read as a gzip-compressed tar.
    #[error("refused package: it is truncated or damaged ({0}); download or pack it again")]
    Malformed(String),
    /// The package carries no signature and unsigned installs were not allowed.
    #[error(
        "refused package: it is not signed (no `{0}` beside it); ask its author for the \
         signature, or install it anyway with --allow-unsigned (which is recorded)"
    )]
    Unsigned(String),
    /// The package's bytes are not the ones its signature covers.
    #[error(
        "refused package: its SHA-256 digest is {actual} but its signature covers {signed}; \
         it was changed after it was signed"
    )]
    DigestMismatch { actual: String, signed: String },
    /// The signing key is not one the user trusts.
    #[error(
        "refused package: it is signed by key {0}, which you do not trust; if you trust its \
         author, add their public key with `lord key trust FILE`"
    )]
    UntrustedKey(String),
    /// The signature does not verify under the key it names.
    #[error(
        "refused package: its signature does not verify with key {0}; it was forged or damaged"
    )]
    BadSignature(String),
    /// A release signature made for another version or platform offered
    /// for a release, or a package's signature for a release, or a
    /// release's for a package.
    #[error(
        "refused: its signature vouches for {signed}, but it is offered as {offered}; whoever \
         offers it changed what it claims to be, or it was signed as the wrong thing"
    )]
    ReleaseMismatch { signed: String, offered: String },
    /// A signature file that is not one.
    #[error("refused package: `{path}` is not a lord signature: {problem}")]
    SignatureFormat { path: PathBuf, problem: String },
    #[error("no key named `{0}`; see `lord key list`, or make one with `lord key generate {0}`")]
    NoSuchKey(String),
    #[error("a key named `{0}` already exists; pick another name or use it")]
    KeyExists(String),
    #[error("`{source_name}` is not a lord public key: {problem}")]
    KeyFormat {
        source_name: String,
        problem: String,
    },
}

impl PackageError {
    /// True when the input (a folder, package, signature or key name) is
    /// at fault, not the machine.
    pub fn is_user_error(&self) -> bool {
        match self {
            PackageError::Io { .. } => false,
            PackageError::Manifest(_)
            | PackageError::Unpackable { .. }
            | PackageError::Refused(_)
            | PackageError::Malformed(_)
            | PackageError::Unsigned(_)
            | PackageError::DigestMismatch { .. }
            | PackageError::UntrustedKey(_)
            | PackageError::BadSignature(_)
            | PackageError::ReleaseMismatch { .. }
            | PackageError::SignatureFormat { .. }
            | PackageError::NoSuchKey(_)
            | PackageError::KeyExists(_)
            | PackageError::KeyFormat { .. } => true,
        }
    }
}

pub(crate) fn io(
    action: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> PackageError {
    let path = path.to_path_buf();
    move |source| PackageError::Io {
        action,
        path,
        source,
    }
}
