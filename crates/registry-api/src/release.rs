//! A release of lord itself as a target of the registry's signed (TUF)
//! index: `releases/PLATFORM/lord-VERSION`, its length and SHA-256 carried
//! by TUF, and in `custom` the version, platform and the ed25519 signature
//! of the binary's digest (the same signature a package carries), so `lord
//! self update` trusts the binary exactly as an install trusts a package.
//! [`IndexEntry`] is what the server signs into the index, packages and
//! releases alike.

use serde_json::{Map, Value, json};

use crate::TargetInfo;

/// What every target name of a release starts with.
pub const RELEASES: &str = "releases/";

/// The target of the organisation's governance policies a registry serves
/// (Cedar text, validated against lord's policy schema when set), signed
/// into the index like a release so clients trust it through TUF alone.
pub const POLICIES: &str = "policies/registry.cedar";

/// One release of the `lord` binary for one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseInfo {
    pub version: String,
    /// `ARCH-OS` as Rust names them (`x86_64-linux`, `aarch64-macos`).
    pub platform: String,
    /// SHA-256 of the binary, hexadecimal.
    pub digest: String,
    pub length: u64,
    /// The signer's key id.
    pub key: String,
    /// The ed25519 signature of the digest (hexadecimal).
    pub signature: String,
}

/// The target name of a release.
pub fn release_name(platform: &str, version: &str) -> String {
    format!("{RELEASES}{platform}/lord-{version}")
}

impl ReleaseInfo {
    /// Its name in the signed index.
    pub fn name(&self) -> String {
        release_name(&self.platform, &self.version)
    }

    /// The target's `custom` object (length and hash are TUF's own).
    pub fn custom(&self) -> Map<String, Value> {
        let mut map = Map::new();
        for (key, value) in [
            ("kind", json!("release")),
            ("version", json!(self.version)),
            ("platform", json!(self.platform)),
            ("key", json!(self.key)),
            ("signature", json!(self.signature)),
        ] {
            map.insert(key.to_owned(), value);
        }
        map
    }

    /// Reads a release back from a verified target, or `None` when the
    /// target is not a release.
    pub fn from_custom(length: u64, digest: String, custom: &Map<String, Value>) -> Option<Self> {
        let text = |key: &str| custom.get(key).and_then(Value::as_str).map(str::to_owned);
        if text("kind").as_deref() != Some("release") {
            return None;
        }
        Some(Self {
            version: text("version")?,
            platform: text("platform")?,
            digest,
            length,
            key: text("key").unwrap_or_default(),
            signature: text("signature").unwrap_or_default(),
        })
    }
}

/// One target as the server signs it into the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub name: String,
    pub length: u64,
    /// SHA-256, hexadecimal.
    pub digest: String,
    pub custom: Map<String, Value>,
}

impl From<&TargetInfo> for IndexEntry {
    fn from(target: &TargetInfo) -> Self {
        Self {
            name: target.name(),
            length: target.length,
            digest: target.digest.clone(),
            custom: target.custom(),
        }
    }
}

impl From<&ReleaseInfo> for IndexEntry {
    fn from(release: &ReleaseInfo) -> Self {
        Self {
            name: release.name(),
            length: release.length,
            digest: release.digest.clone(),
            custom: release.custom(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_round_trips_and_a_package_is_not_one() {
        let release = ReleaseInfo {
            version: "1.2.3".to_owned(),
            platform: "x86_64-linux".to_owned(),
            digest: "ab".repeat(32),
            length: 42,
            key: "k".to_owned(),
            signature: "s".to_owned(),
        };
        assert_eq!(release.name(), "releases/x86_64-linux/lord-1.2.3");
        let back = ReleaseInfo::from_custom(42, "ab".repeat(32), &release.custom());
        assert_eq!(back, Some(release));
        let package = Map::from_iter([("id".to_owned(), json!("hello"))]);
        assert_eq!(ReleaseInfo::from_custom(1, String::new(), &package), None);
    }
}
