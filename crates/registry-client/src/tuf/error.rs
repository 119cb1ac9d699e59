//! Why the TUF workflow refused something. Each message names the role and
//! the versions involved, says which check failed, and what a person can
//! do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TufError {
    #[error("could not fetch `{url}`: {reason}; check the registry URL and that it runs")]
    Fetch { url: String, reason: String },
    #[error(
        "the registry has no `{role}` metadata at `{url}`; the registry is incomplete or \
         this is not a TUF repository (tell its operator)"
    )]
    Missing { role: String, url: String },
    #[error(
        "`{what}` is larger than the {limit} bytes allowed for it; refusing it (an endless \
         or padded answer is an attack, or the registry is misconfigured)"
    )]
    TooLarge { what: String, limit: u64 },
    #[error("`{role}` metadata is malformed: {reason}; refusing it")]
    Malformed { role: String, reason: String },
    #[error(
        "`{role}` metadata version {version} is signed by {valid} of the {threshold} keys its \
         delegator requires; refusing it (forged, or signed with a key the repository has \
         retired). If its operator confirms the keys were replaced without a signed rotation, \
         delete the trusted metadata (for lord, `$LORD_HOME/registries/REGISTRY/metadata/`) \
         to trust the registry anew"
    )]
    Threshold {
        role: String,
        version: u64,
        valid: u64,
        threshold: u64,
    },
    #[error(
        "rollback: the registry offers `{role}` version {offered}, older than version \
         {trusted} already trusted; refusing it (a mirror or server is replaying old \
         metadata: try again later or tell the registry's operator)"
    )]
    Rollback {
        role: String,
        trusted: u64,
        offered: u64,
    },
    #[error(
        "`{role}` metadata version {version} expired at {expires} (this machine's clock says \
         {now}); refusing it. If the clock is wrong, set it right and retry (nothing is \
         remembered from a wrong clock); otherwise the registry stopped re-signing: tell \
         its operator"
    )]
    Expired {
        role: String,
        version: u64,
        expires: jiff::Timestamp,
        now: jiff::Timestamp,
    },
    #[error(
        "`{role}` metadata has version {got} where {by} says {expected}; refusing it (a mix \
         of metadata from different moments: retry, or tell the registry's operator)"
    )]
    VersionMismatch {
        role: String,
        by: &'static str,
        expected: u64,
        got: u64,
    },
    #[error(
        "`{what}` does not match the {algorithm} hash its signed metadata lists; refusing it \
         (tampered with or corrupted in transit: retry, or tell the registry's operator)"
    )]
    HashMismatch { what: String, algorithm: String },
    #[error(
        "`{what}` is {got} bytes where its signed metadata says {expected}; refusing it \
         (tampered with or corrupted in transit: retry, or tell the registry's operator)"
    )]
    LengthMismatch {
        what: String,
        expected: u64,
        got: u64,
    },
    #[error(
        "`{what}` is listed with {detail}; lord can check sha256, sha384 and sha512, so it \
         cannot verify this file and refuses it"
    )]
    Unverifiable { what: String, detail: String },
    #[error(
        "the snapshot (version {snapshot}) {detail}; refusing it (a role removed or rolled \
         back: tell the registry's operator)"
    )]
    SnapshotRollback { snapshot: u64, detail: String },
    #[error(
        "`{role}` is not listed in the snapshot (version {snapshot}), so it cannot be trusted; \
         the registry's snapshot is incomplete (tell its operator)"
    )]
    NotInSnapshot { role: String, snapshot: u64 },
    #[error("`{role}` is {reason}; refusing it")]
    NotDelegated { role: String, reason: String },
    #[error("no target `{path}` in the registry's signed metadata")]
    NoSuchTarget { path: String },
    #[error("could not {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<lord_file::WriteError> for TufError {
    fn from(e: lord_file::WriteError) -> Self {
        TufError::Io {
            action: e.action,
            path: e.path,
            source: e.source,
        }
    }
}
