//! One package version as the registry's signed (TUF) index lists it: the
//! target's name, and the `custom` fields that resolution needs, written by
//! the server and read back by the client.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// One package version as the signed index lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetInfo {
    pub id: String,
    pub version: String,
    /// SHA-256 of the package, hexadecimal.
    pub digest: String,
    pub length: u64,
    pub host_api: String,
    pub dependencies: BTreeMap<String, String>,
    pub yanked: bool,
    /// The package signer's key id.
    pub key: String,
    /// The package's ed25519 signature (hexadecimal), as in its `.sig`.
    pub signature: String,
}

/// The target name of a package version.
pub fn target_name(id: &str, version: &str) -> String {
    format!("plugins/{id}/{version}.lordpkg")
}

impl TargetInfo {
    /// Its name in the signed index.
    pub fn name(&self) -> String {
        target_name(&self.id, &self.version)
    }

    /// The target's `custom` object: everything but the length and hash,
    /// which TUF carries itself.
    pub fn custom(&self) -> Map<String, Value> {
        let value = json!({
            "id": self.id,
            "version": self.version,
            "host_api": self.host_api,
            "dependencies": self.dependencies,
            "yanked": self.yanked,
            "key": self.key,
            "signature": self.signature,
        });
        match value {
            Value::Object(map) => map,
            Value::Null
            | Value::Bool(_)
            | Value::Number(_)
            | Value::String(_)
            | Value::Array(_) => Map::new(),
        }
    }

    /// Reads a target back from its verified length, SHA-256 (hexadecimal)
    /// and `custom` object. Missing fields read as empty: the signature on
    /// the index, not this parse, is what makes them trustworthy.
    pub fn from_custom(length: u64, digest: String, custom: &Map<String, Value>) -> Self {
        let field = |key: &str| custom.get(key).cloned().unwrap_or(Value::Null);
        let text = |key: &str| field(key).as_str().unwrap_or_default().to_owned();
        Self {
            id: text("id"),
            version: text("version"),
            digest,
            length,
            host_api: text("host_api"),
            dependencies: serde_json::from_value(field("dependencies")).unwrap_or_default(),
            yanked: field("yanked").as_bool().unwrap_or(false),
            key: text("key"),
            signature: text("signature"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_fields_round_trip() {
        let info = TargetInfo {
            id: "tally".into(),
            version: "0.1.0".into(),
            digest: "ab".repeat(32),
            length: 42,
            host_api: "^0.2".into(),
            dependencies: BTreeMap::from([("notes".into(), "^0.1".into())]),
            yanked: true,
            key: "k1".into(),
            signature: "cd".repeat(32),
        };
        let back = TargetInfo::from_custom(42, info.digest.clone(), &info.custom());
        assert_eq!(back, info);
        assert_eq!(info.name(), "plugins/tally/0.1.0.lordpkg");
    }
}
