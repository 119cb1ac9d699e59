//! Install receipts: what lets an account review a plugin it installed
//! without the registry keeping a list of who installed what.
//!
//! When an account (a bearer token) installs a package, it asks for a
//! receipt with the digest it installed (or gets one with a download):
//! the account's number, the plugin, the version, the package digest and
//! the time, hex-encoded JSON, then `.` and an Ed25519 signature over
//! those bytes under the registry's receipt key
//! (`lord_registry_api::Receipt`). The client checks the signature under
//! the key `GET /api/v1/receipts/key` shows before keeping the receipt,
//! and presents it with a review or rating; the registry checks the
//! signature and that the receipt names the caller and the version
//! reviewed. A receipt cannot be moved to another account, plugin or
//! version without the private key, which never leaves the database.
//!
//! Why a signature rather than a MAC: the client can then tell a real
//! receipt from a server's mistake before it keeps one. The key is the
//! 32-byte seed kept in the database (`receipt_key`, made on first use),
//! so every server of one registry signs with the same key.

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use lord_registry_api::Receipt;
pub(crate) use lord_registry_api::ReceiptClaims as Claims;

use crate::error::RegistryError;

/// The signing key made from the database's 32-byte seed.
fn key_pair(seed: &[u8]) -> Result<Ed25519KeyPair, RegistryError> {
    Ed25519KeyPair::from_seed_unchecked(seed)
        .map_err(|e| RegistryError::Internal(format!("the receipt key is unusable: {e}")))
}

/// The public half of the receipt key, hexadecimal.
pub(crate) fn public_key(seed: &[u8]) -> Result<String, RegistryError> {
    Ok(hex::encode(key_pair(seed)?.public_key().as_ref()))
}

/// A receipt for `claims` under the key made from `seed`.
pub(crate) fn issue(seed: &[u8], claims: &Claims) -> Result<String, RegistryError> {
    let pair = key_pair(seed)?;
    Ok(Receipt::encode(claims, |bytes| {
        pair.sign(bytes).as_ref().to_vec()
    }))
}

/// The claims of `receipt` if the key made from `seed` signed it; a
/// refusal otherwise.
pub(crate) fn verify(seed: &[u8], receipt: &str) -> Result<Claims, RegistryError> {
    let forged = || {
        RegistryError::Forbidden(
            "the install receipt is not one this registry issued; install the plugin with \
             your account's token to get one"
                .to_owned(),
        )
    };
    let parsed = Receipt::parse(receipt).ok_or_else(forged)?;
    let pair = key_pair(seed)?;
    UnparsedPublicKey::new(&ED25519, pair.public_key().as_ref())
        .verify(&parsed.signed, &parsed.signature)
        .map_err(|_| forged())?;
    Ok(parsed.claims)
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
        let receipt = issue(&[1; 32], &claims()).expect("issued");
        assert_eq!(verify(&[1; 32], &receipt).expect("verifies"), claims());
        assert!(verify(&[2; 32], &receipt).is_err());
    }

    #[test]
    fn a_changed_receipt_is_refused() {
        let receipt = issue(&[3; 32], &claims()).expect("issued");
        let mut other = claims();
        other.account = 8;
        let (_, tag) = receipt.split_once('.').expect("tag");
        let moved = format!(
            "{}.{tag}",
            hex::encode(serde_json::to_vec(&other).expect("json"))
        );
        assert!(verify(&[3; 32], &moved).is_err());
        assert!(verify(&[3; 32], "nonsense").is_err());
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
