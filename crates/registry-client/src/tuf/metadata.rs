//! The four roles' metadata, parsed from the bytes received: each keeps the
//! canonical form of its `signed` object and its signatures, so it can be
//! verified against whichever delegator reaches it, and the typed fields the
//! workflow reads. Unknown fields are allowed (and signed over), as the
//! specification requires. No I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::cjson;
use super::error::TufError;
use super::keys::{KeyJson, PublicKey};

/// The fields every role has.
#[derive(Debug, Deserialize)]
struct Common {
    #[serde(rename = "_type")]
    kind: String,
    spec_version: String,
    version: u64,
    expires: String,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    signatures: Vec<SignatureJson>,
    signed: Value,
}

#[derive(Debug, Deserialize)]
struct SignatureJson {
    keyid: String,
    sig: String,
}

/// One role's verified-or-not metadata.
#[derive(Debug, Clone)]
pub(crate) struct Metadata<T> {
    pub(crate) signed: T,
    pub(crate) version: u64,
    pub(crate) expires: jiff::Timestamp,
    canonical: Vec<u8>,
    /// Key id → signature bytes (undecodable hex verifies nothing).
    signatures: BTreeMap<String, Vec<u8>>,
}

/// Keys and threshold a delegator gives a role.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RoleKeys {
    pub(crate) keyids: Vec<String>,
    pub(crate) threshold: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Root {
    #[serde(default)]
    pub(crate) consistent_snapshot: bool,
    keys: BTreeMap<String, KeyJson>,
    pub(crate) roles: BTreeMap<String, RoleKeys>,
}

/// Version, length and hashes of a metadata file, as a timestamp or
/// snapshot lists it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MetaFile {
    pub(crate) version: u64,
    pub(crate) length: Option<u64>,
    pub(crate) hashes: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Timestamp {
    pub(crate) meta: BTreeMap<String, MetaFile>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Snapshot {
    pub(crate) meta: BTreeMap<String, MetaFile>,
}

/// A target as a targets role lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct TargetFile {
    pub length: u64,
    pub hashes: BTreeMap<String, String>,
    #[serde(default)]
    pub custom: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Targets {
    #[serde(default)]
    pub(crate) targets: BTreeMap<String, TargetFile>,
    pub(crate) delegations: Option<Delegations>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Delegations {
    #[serde(default)]
    keys: BTreeMap<String, KeyJson>,
    #[serde(default)]
    pub(crate) roles: Vec<DelegatedRole>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DelegatedRole {
    pub(crate) name: String,
    #[serde(flatten)]
    pub(crate) keys: RoleKeys,
    #[serde(default)]
    pub(crate) terminating: bool,
    pub(crate) paths: Option<Vec<String>>,
    pub(crate) path_hash_prefixes: Option<Vec<String>>,
}

/// The roles' `_type` values.
pub(crate) trait Role: DeserializeOwned {
    const TYPE: &'static str;
    fn check(&self, _name: &str) -> Result<(), String> {
        Ok(())
    }
}

impl Role for Root {
    const TYPE: &'static str = "root";
    fn check(&self, _name: &str) -> Result<(), String> {
        for role in ["root", "timestamp", "snapshot", "targets"] {
            let keys = self.roles.get(role).ok_or(format!("no `{role}` role"))?;
            if keys.threshold == 0 {
                return Err(format!("the `{role}` role has threshold 0"));
            }
        }
        Ok(())
    }
}
impl Role for Timestamp {
    const TYPE: &'static str = "timestamp";
    fn check(&self, _name: &str) -> Result<(), String> {
        match self.meta.get("snapshot.json") {
            Some(_) if self.meta.len() == 1 => Ok(()),
            _ => Err("its meta must list snapshot.json and nothing else".to_owned()),
        }
    }
}
impl Role for Snapshot {
    const TYPE: &'static str = "snapshot";
}
impl Role for Targets {
    const TYPE: &'static str = "targets";
    fn check(&self, _name: &str) -> Result<(), String> {
        let Some(delegations) = &self.delegations else {
            return Ok(());
        };
        let mut names = BTreeSet::new();
        for role in &delegations.roles {
            if !names.insert(role.name.as_str()) {
                return Err(format!("it delegates to `{}` twice", role.name));
            }
            if role.keys.threshold == 0 {
                return Err(format!("it delegates to `{}` with threshold 0", role.name));
            }
            if role.paths.is_some() == role.path_hash_prefixes.is_some() {
                return Err(format!(
                    "its delegation to `{}` must have exactly one of paths and path_hash_prefixes",
                    role.name
                ));
            }
        }
        Ok(())
    }
}

impl<T: Role> Metadata<T> {
    /// Parses `bytes` as role `name` of type `T`; checks its shape, not its
    /// signatures.
    pub(crate) fn parse(name: &str, bytes: &[u8]) -> Result<Self, TufError> {
        let bad = |reason: String| TufError::Malformed {
            role: name.to_owned(),
            reason,
        };
        let envelope: Envelope = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let common: Common =
            serde_json::from_value(envelope.signed.clone()).map_err(|e| bad(e.to_string()))?;
        if common.kind != T::TYPE {
            return Err(bad(format!(
                "its type is `{}`, not `{}`",
                common.kind,
                T::TYPE
            )));
        }
        let major = common.spec_version.split('.').collect::<Vec<_>>();
        if !(2..=3).contains(&major.len()) || major[0] != "1" {
            return Err(bad(format!(
                "spec_version `{}` is not 1.x; lord reads TUF 1.x metadata",
                common.spec_version
            )));
        }
        if common.version == 0 {
            return Err(bad("version 0; versions start at 1".to_owned()));
        }
        let expires: jiff::Timestamp = common
            .expires
            .parse()
            .map_err(|e| bad(format!("expires `{}`: {e}", common.expires)))?;
        let signed: T =
            serde_json::from_value(envelope.signed.clone()).map_err(|e| bad(e.to_string()))?;
        signed.check(name).map_err(bad)?;
        let canonical = cjson::encode(&envelope.signed).map_err(bad)?;
        let mut signatures = BTreeMap::new();
        for s in envelope.signatures {
            let sig = hex::decode(&s.sig).unwrap_or_default();
            if signatures.insert(s.keyid.clone(), sig).is_some() {
                return Err(bad(format!(
                    "key {} signed it twice; each key may sign once",
                    short(&s.keyid)
                )));
            }
        }
        Ok(Self {
            signed,
            version: common.version,
            expires,
            canonical,
            signatures,
        })
    }
}

impl<T> Metadata<T> {
    /// Checks that at least `threshold` distinct keys of `role` signed this
    /// metadata. Two key ids of the same key count once.
    pub(crate) fn verify(
        &self,
        name: &str,
        keys: &BTreeMap<String, PublicKey>,
        role: &RoleKeys,
    ) -> Result<(), TufError> {
        let mut used: BTreeSet<&[u8]> = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for keyid in &role.keyids {
            if !ids.insert(keyid) {
                continue;
            }
            let (Some(key), Some(sig)) = (keys.get(keyid), self.signatures.get(keyid)) else {
                continue;
            };
            if key.verifies(&self.canonical, sig) {
                used.insert(&key.bytes);
            }
        }
        let valid = used.len() as u64;
        if valid >= role.threshold {
            Ok(())
        } else {
            Err(TufError::Threshold {
                role: name.to_owned(),
                version: self.version,
                valid,
                threshold: role.threshold,
            })
        }
    }
}

impl Root {
    pub(crate) fn keys(&self) -> BTreeMap<String, PublicKey> {
        keys(&self.keys)
    }
}

impl Delegations {
    pub(crate) fn keys(&self) -> BTreeMap<String, PublicKey> {
        keys(&self.keys)
    }
}

fn keys(json: &BTreeMap<String, KeyJson>) -> BTreeMap<String, PublicKey> {
    json.iter()
        .map(|(id, key)| (id.clone(), PublicKey::from_json(key)))
        .collect()
}

impl DelegatedRole {
    /// True when this delegation covers `target` (a TUF target path).
    pub(crate) fn covers(&self, target: &str) -> bool {
        if let Some(patterns) = &self.paths {
            return patterns.iter().any(|p| path_matches(p, target));
        }
        if let Some(prefixes) = &self.path_hash_prefixes {
            let digest = hex::encode(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                target.as_bytes(),
            ));
            return prefixes.iter().any(|p| digest.starts_with(p.as_str()));
        }
        false
    }
}

/// A delegation's path pattern against a target path: both split at `/`
/// into the same number of parts, each part matched as a shell glob
/// (`*`, `?`, `[...]`), so `*` never crosses a folder.
pub(crate) fn path_matches(pattern: &str, target: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let target: Vec<&str> = target.split('/').collect();
    pattern.len() == target.len()
        && pattern.iter().zip(&target).all(|(p, t)| {
            glob(
                &p.chars().collect::<Vec<_>>(),
                &t.chars().collect::<Vec<_>>(),
            )
        })
}

fn glob(p: &[char], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') => (0..=t.len()).any(|i| glob(&p[1..], &t[i..])),
        Some('?') => !t.is_empty() && glob(&p[1..], &t[1..]),
        Some('[') => match (class(&p[1..]), t.first()) {
            (Some((matches, rest)), Some(c)) => matches(*c) && glob(rest_of(p, rest), &t[1..]),
            (Some(_), None) => false,
            (None, _) => t.first() == Some(&'[') && glob(&p[1..], &t[1..]),
        },
        Some(c) => t.first() == Some(c) && glob(&p[1..], &t[1..]),
    }
}

fn rest_of(p: &[char], consumed: usize) -> &[char] {
    &p[1 + consumed..]
}

/// A `[...]` class after its `[`: a matcher and how many chars it used, or
/// `None` when unclosed (then `[` is literal, as in Python's fnmatch).
#[expect(clippy::type_complexity, reason = "a matcher and a count, used once")]
fn class(p: &[char]) -> Option<(Box<dyn Fn(char) -> bool + '_>, usize)> {
    let negate = p.first() == Some(&'!');
    let start = usize::from(negate);
    // A `]` first in the class is literal.
    let close = p
        .iter()
        .enumerate()
        .skip(start + 1)
        .find(|(_, c)| **c == ']')
        .map(|(i, _)| i)?;
    let body = &p[start..close];
    let matcher = move |c: char| {
        let mut i = 0;
        let mut hit = false;
        while i < body.len() {
            if i + 2 < body.len() && body[i + 1] == '-' {
                hit |= body[i] <= c && c <= body[i + 2];
                i += 3;
            } else {
                hit |= body[i] == c;
                i += 1;
            }
        }
        hit != negate
    };
    Some((Box::new(matcher), close + 1))
}

/// A key id short enough for a message.
pub(crate) fn short(keyid: &str) -> &str {
    keyid.get(..8).unwrap_or(keyid)
}

#[cfg(test)]
mod tests {
    use super::path_matches;

    #[test]
    fn path_patterns_match_part_by_part() {
        for (pattern, target, expect) in [
            ("*", "a.txt", true),
            ("*", "dir/a.txt", false),
            ("dir/*", "dir/a.txt", true),
            ("*/*.py", "x/y.py", true),
            ("*.py", "y.pyc", false),
            ("file?.txt", "file1.txt", true),
            ("file[0-9].txt", "file7.txt", true),
            ("file[!0-9].txt", "file7.txt", false),
            ("team-a/*", "team-b/x", false),
        ] {
            assert_eq!(path_matches(pattern, target), expect, "{pattern} {target}");
        }
    }
}

#[cfg(test)]
mod signed_by_python_tuf {
    use super::{Metadata, Root};

    /// A root python-tuf signed with an ed25519, an ECDSA P-256 and an RSA-PSS
    /// key (threshold 3), carrying an unknown field with a string that is not
    /// in Unicode NFC, quotes and a backslash: canonical JSON and all three
    /// key types must agree with it byte for byte.
    const ROOT: &[u8] = include_bytes!("testdata/root-three-key-types.json");

    #[test]
    fn a_root_signed_by_python_tuf_verifies_with_every_key_type() {
        let root = Metadata::<Root>::parse("root", ROOT).expect("parses");
        let keys = root.signed.keys();
        let role = root.signed.roles["root"].clone();
        assert_eq!(role.threshold, 3);
        root.verify("root", &keys, &role)
            .expect("three valid signatures");
    }

    #[test]
    fn a_changed_byte_or_a_repeated_signature_is_refused() {
        let text = std::str::from_utf8(ROOT).expect("utf-8");
        let tampered = text.replace("back\\\\slash", "back\\\\slasH");
        assert_ne!(tampered, text);
        let root = Metadata::<Root>::parse("root", tampered.as_bytes()).expect("parses");
        let error = root
            .verify("root", &root.signed.keys(), &root.signed.roles["root"])
            .expect_err("tampered");
        assert!(
            error.to_string().contains("signed by 0 of the 3"),
            "{error}"
        );

        let mut json: serde_json::Value = serde_json::from_slice(ROOT).expect("json");
        let first = json["signatures"][0].clone();
        json["signatures"]
            .as_array_mut()
            .expect("signatures")
            .push(first);
        let error = Metadata::<Root>::parse("root", json.to_string().as_bytes())
            .expect_err("a key signing twice");
        assert!(error.to_string().contains("signed it twice"), "{error}");
    }
}
