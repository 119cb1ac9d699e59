//! Install receipts: what lets an account review a plugin it installed
//! without the registry keeping a list of who installed what.
//!
//! When an account (a bearer token) downloads a package, the answer
//! carries a receipt: the account's number, the plugin, the version, the
//! package digest and the time, hex-encoded JSON, then `.` and an
//! HMAC-SHA256 over those bytes under the registry's receipt key. The
//! client keeps it and presents it with a review or rating; the registry
//! checks the MAC and that the receipt names the caller and the version
//! reviewed. A receipt cannot be moved to another account, plugin or
//! version without the key, which never leaves the database.
//!
//! Why a MAC, not a public signature: only the registry that issued a
//! receipt ever checks it, and every server of one registry reads the same
//! key from the shared database (`receipt_key`, made on first use).

use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};

use crate::error::RegistryError;

/// What a receipt says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The account: the token's row number.
    pub(crate) account: i64,
    pub(crate) plugin: String,
    pub(crate) version: String,
    pub(crate) digest: String,
    pub(crate) issued_ms: i64,
}

/// A receipt for `claims` under `key`.
pub(crate) fn issue(key: &[u8], claims: &Claims) -> String {
    let body = hex::encode(serde_json::to_vec(claims).unwrap_or_default());
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), body.as_bytes());
    format!("{body}.{}", hex::encode(tag.as_ref()))
}

/// The claims of `receipt` if `key` made it; a refusal otherwise.
pub(crate) fn verify(key: &[u8], receipt: &str) -> Result<Claims, RegistryError> {
    let forged = || {
        RegistryError::Forbidden(
            "the install receipt is not one this registry issued; install the plugin with \
             your account's token to get one"
                .to_owned(),
        )
    };
    let (body, tag) = receipt.trim().split_once('.').ok_or_else(forged)?;
    let tag = hex::decode(tag).map_err(|_| forged())?;
    hmac::verify(
        &hmac::Key::new(hmac::HMAC_SHA256, key),
        body.as_bytes(),
        &tag,
    )
    .map_err(|_| forged())?;
    let json = hex::decode(body).map_err(|_| forged())?;
    serde_json::from_slice(&json).map_err(|_| forged())
}

/// Refuses `claims` unless they name `account`, `plugin` and `version`.
pub(crate) fn check_binding(
    claims: &Claims,
    account: i64,
    plugin: &str,
    version: &str,
) -> Result<(), RegistryError> {
    if claims.account != account {
        return Err(RegistryError::Forbidden(
            "this install receipt belongs to another account; review with the token you \
             installed with"
                .to_owned(),
        ));
    }
    if claims.plugin != plugin || claims.version != version {
        return Err(RegistryError::Forbidden(format!(
            "this install receipt is for {} {}, not {plugin} {version}; review the version you \
             installed",
            claims.plugin, claims.version
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            account: 7,
            plugin: "hello".to_owned(),
            version: "1.0.0".to_owned(),
            digest: "ab".repeat(32),
            issued_ms: 1,
        }
    }

    #[test]
    fn a_receipt_verifies_under_its_key_only() {
        let receipt = issue(b"key one", &claims());
        assert_eq!(verify(b"key one", &receipt).expect("verifies"), claims());
        assert!(verify(b"key two", &receipt).is_err());
    }

    #[test]
    fn a_changed_receipt_is_refused() {
        let receipt = issue(b"key", &claims());
        let mut other = claims();
        other.account = 8;
        let (_, tag) = receipt.split_once('.').expect("tag");
        let moved = format!(
            "{}.{tag}",
            hex::encode(serde_json::to_vec(&other).expect("json"))
        );
        assert!(verify(b"key", &moved).is_err());
        assert!(verify(b"key", "nonsense").is_err());
    }

    #[test]
    fn a_receipt_binds_account_plugin_and_version() {
        let c = claims();
        assert!(check_binding(&c, 7, "hello", "1.0.0").is_ok());
        assert!(check_binding(&c, 8, "hello", "1.0.0").is_err());
        assert!(check_binding(&c, 7, "hello", "1.1.0").is_err());
        assert!(check_binding(&c, 7, "other", "1.0.0").is_err());
    }
}
