//! `lord-package`: plugin packages and their signatures.
//!
//! - [`pack`] builds a deterministic archive of a plugin folder and its
//!   SHA-256 [`Digest`]; [`unpack`] opens one under [`Limits`], refusing
//!   links, escaping paths and bombs whatever the archive claims.
//! - [`Keys`] holds the user's ed25519 signing keys and the trusted public
//!   keys; [`Keys::sign`] makes a detached [`Signature`]; [`verify`] checks
//!   one and fails closed.
//! - [`open`] is what an install does with a package file, in order: read
//!   it (capped), digest it, verify its signature (or accept it unsigned
//!   only when told to), then unpack it into a folder the caller made.
//!
//! Invariant: nothing here runs plugin code or writes outside the folder
//! it was given.

mod archive;
mod error;
mod signature;

use std::io::Read as _;
use std::path::Path;

pub use archive::{Digest, EXTENSION, Limits, Packed, Unpacked, pack, unpack};
pub use error::PackageError;
pub use signature::{
    KeyId, KeyInfo, Keys, PublicKey, ReleaseStatement, Signature, Verified, check_key_name, verify,
    verify_release,
};

/// How an opened package came to be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// Its signature verified under a trusted key.
    Signed(Verified),
    /// It had no signature and the user allowed that.
    AllowedUnsigned,
}

impl std::fmt::Display for Provenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Signed(v) => write!(f, "signed by key {} ({})", v.key, v.name),
            Self::AllowedUnsigned => f.write_str("unsigned, allowed by --allow-unsigned"),
        }
    }
}

/// A package that passed every check and was unpacked.
#[derive(Debug, Clone)]
pub struct Opened {
    pub digest: Digest,
    pub provenance: Provenance,
    pub unpacked: Unpacked,
}

/// Reads, verifies and unpacks the package file `package` into `dest` (an
/// empty folder). A signature that exists must verify, even when unsigned
/// packages are allowed: a bad signature is a tampered package, not a
/// missing one.
pub fn open(
    package: &Path,
    dest: &Path,
    trusted: &[PublicKey],
    allow_unsigned: bool,
    limits: &Limits,
) -> Result<Opened, PackageError> {
    let file = std::fs::File::open(package).map_err(error::io("open", package))?;
    let mut bytes = Vec::new();
    // A package is never bigger than what it may unpack to.
    let cap = limits.max_total_bytes + (1 << 20);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(error::io("read", package))?;
    if bytes.len() as u64 > cap {
        return Err(PackageError::Refused(format!(
            "the file is over {cap} bytes"
        )));
    }
    let digest = Digest::of(&bytes);
    let sig_path = Signature::path_for(package);
    let provenance = match std::fs::read_to_string(&sig_path) {
        Ok(text) => {
            let signature = Signature::parse(&sig_path, &text)?;
            Provenance::Signed(verify(&signature, &digest, trusted)?)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !allow_unsigned {
                return Err(PackageError::Unsigned(sig_path.display().to_string()));
            }
            Provenance::AllowedUnsigned
        }
        Err(e) => return Err(error::io("read", &sig_path)(e)),
    };
    let unpacked = unpack(&bytes, dest, limits)?;
    Ok(Opened {
        digest,
        provenance,
        unpacked,
    })
}
