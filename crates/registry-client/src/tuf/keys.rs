//! Public keys as TUF metadata lists them, and signature checks over them:
//! ed25519 (hex), ECDSA P-256 and RSA (PSS or PKCS#1 v1.5, SHA-256) as PEM
//! SubjectPublicKeyInfo, the key types the specification names. Verification
//! is aws-lc-rs's, the crypto provider lord's TLS already uses. A key of a
//! type or scheme not listed here is kept but verifies nothing, so one odd
//! key never makes a whole root unreadable.

use aws_lc_rs::signature::{self, VerificationAlgorithm};
use serde::Deserialize;

/// A key as metadata spells it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct KeyJson {
    pub(crate) keytype: String,
    pub(crate) scheme: String,
    pub(crate) keyval: KeyVal,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct KeyVal {
    pub(crate) public: String,
}

/// A key ready to verify with, or `None` for a type lord does not know.
#[derive(Clone)]
pub(crate) struct PublicKey {
    algorithm: Option<&'static dyn VerificationAlgorithm>,
    /// The key's bytes, which also tell two key ids of one key apart.
    pub(crate) bytes: Vec<u8>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", hex::encode(&self.bytes))
    }
}

impl PublicKey {
    pub(crate) fn from_json(key: &KeyJson) -> Self {
        let public = key.keyval.public.trim();
        let (algorithm, bytes): (Option<&'static dyn VerificationAlgorithm>, _) =
            match (key.keytype.as_str(), key.scheme.as_str()) {
                ("ed25519", "ed25519") => (Some(&signature::ED25519), hex::decode(public).ok()),
                ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => {
                    (Some(&signature::ECDSA_P256_SHA256_ASN1), der(public))
                }
                ("ecdsa" | "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384") => {
                    (Some(&signature::ECDSA_P384_SHA384_ASN1), der(public))
                }
                ("rsa", "rsassa-pss-sha256") => {
                    (Some(&signature::RSA_PSS_2048_8192_SHA256), der(public))
                }
                ("rsa", "rsa-pkcs1v15-sha256") => {
                    (Some(&signature::RSA_PKCS1_2048_8192_SHA256), der(public))
                }
                _ => (None, None),
            };
        match bytes {
            Some(bytes) => Self { algorithm, bytes },
            None => Self {
                algorithm: None,
                bytes: public.as_bytes().to_vec(),
            },
        }
    }

    /// True when `sig` is this key's signature over `message`.
    pub(crate) fn verifies(&self, message: &[u8], sig: &[u8]) -> bool {
        self.algorithm.is_some_and(|algorithm| {
            signature::UnparsedPublicKey::new(algorithm, &self.bytes)
                .verify(message, sig)
                .is_ok()
        })
    }
}

/// PEM's DER, or hex (older metadata wrote ECDSA points as hex).
fn der(public: &str) -> Option<Vec<u8>> {
    if public.starts_with("-----BEGIN") {
        pem::parse(public).ok().map(pem::Pem::into_contents)
    } else {
        hex::decode(public).ok()
    }
}
