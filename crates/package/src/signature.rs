//! Signing keys, signatures and the trusted-key list.
//!
//! A signature is ed25519 over a domain-separated message (a fixed label,
//! then the package's 32-byte SHA-256 digest), so a signature made for a
//! package can never be replayed as anything else. It travels beside the
//! package as `PACKAGE.sig`, a small JSON document naming the key and the
//! digest it covers.
//!
//! A build of lord itself is signed as a release: the message is another
//! label, then the platform and version it is published as, then the
//! digest ([`Keys::sign_release`], [`verify_release`]). Whoever serves the
//! index can then offer a binary only as the version and platform its
//! publisher signed it for: not an older release as a newer one, not
//! another platform's build, not a package someone signed as lord.
//!
//! Keys live in `$LORD_HOME/keys/` (0700): `NAME.secret` holds a key's
//! 32-byte seed (0600) and `NAME.pub` its public key; `trusted/ID.pub` are
//! the keys whose signatures install. A key made here is trusted at once;
//! anyone else's is trusted only by `lord key trust`.
//!
//! Invariant: verification fails closed. An absent, malformed, untrusted or
//! non-verifying signature, or one over other bytes, is an error; there is
//! no warning-only path.

use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::archive::Digest;
use crate::error::{PackageError, io};

/// What every package signature signs before the digest.
const DOMAIN: &[u8] = b"lord-commander package signature v1\0";

/// What every release signature signs before the platform, the version
/// and the digest.
const RELEASE_DOMAIN: &[u8] = b"lord-commander release signature v1\0";

/// The first word of a public key file.
const KEY_KIND: &str = "lord-ed25519";

/// A key's short id: the first 8 bytes of the SHA-256 of its public key, in
/// hexadecimal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A public key with the name its owner gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    pub name: String,
}

impl PublicKey {
    /// Whether `other` is the same key, whatever either is named. A key id
    /// is a short hash, so two keys can share one; this compares the keys.
    pub fn same_key(&self, other: &PublicKey) -> bool {
        self.key == other.key
    }

    pub fn id(&self) -> KeyId {
        KeyId(hex::encode(&Sha256::digest(self.key.as_bytes())[..8]))
    }

    /// The one-line text form: `lord-ed25519 HEX NAME`.
    pub fn to_text(&self) -> String {
        format!(
            "{KEY_KIND} {} {}\n",
            hex::encode(self.key.as_bytes()),
            self.name
        )
    }

    /// Reads the text form; `source_name` names where it came from.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, PackageError> {
        let bad = |problem: &str| PackageError::KeyFormat {
            source_name: source_name.to_owned(),
            problem: problem.to_owned(),
        };
        let mut words = text.trim().splitn(3, ' ');
        if words.next() != Some(KEY_KIND) {
            return Err(bad("it does not start with `lord-ed25519`"));
        }
        let bytes = words
            .next()
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| bad("the key is not 64 hexadecimal digits"))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| bad("the key is not a valid ed25519 point"))?;
        let name = words.next().unwrap_or("").trim();
        check_key_name(name).map_err(|_| bad("the key's name is missing or invalid"))?;
        Ok(Self {
            key,
            name: name.to_owned(),
        })
    }
}

/// A detached package signature, as stored in `PACKAGE.sig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The format; always 1.
    pub version: u32,
    pub key: KeyId,
    /// The SHA-256 of the package, hexadecimal.
    pub digest: String,
    /// The ed25519 signature, hexadecimal.
    pub signature: String,
    /// For a build of lord: the version and platform the signature covers
    /// with the digest. A package's signature has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseStatement>,
}

/// What a release signature vouches for besides the bytes: that they are
/// lord `version` for `platform` (ARCH-OS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseStatement {
    pub version: String,
    pub platform: String,
}

impl ReleaseStatement {
    /// Its version is SemVer and its platform `ARCH-OS`, in the characters
    /// the index's target names allow (so neither can hold the zero byte
    /// that ends each in the signed message); otherwise what is wrong.
    pub fn check(&self) -> Result<(), String> {
        let (version, platform) = (&self.version, &self.platform);
        semver::Version::parse(version).map_err(|e| {
            format!(
                "`{}` is not a version like 1.2.3: {e}",
                version.escape_debug()
            )
        })?;
        let part = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        match platform.split_once('-') {
            Some((arch, os)) if part(arch) && part(os) => Ok(()),
            Some(_) | None => Err(format!(
                "`{}` is not a platform like x86_64-linux",
                platform.escape_debug()
            )),
        }
    }
}

impl std::fmt::Display for ReleaseStatement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lord {} for {}", self.version, self.platform)
    }
}

impl Signature {
    /// The signature file beside `package`.
    pub fn path_for(package: &Path) -> PathBuf {
        let mut name = package.as_os_str().to_owned();
        name.push(".sig");
        PathBuf::from(name)
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, PackageError> {
        let sig: Self = serde_json::from_str(text).map_err(|e| PackageError::SignatureFormat {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
        if sig.version != 1 {
            return Err(PackageError::SignatureFormat {
                path: path.to_path_buf(),
                problem: format!("format version {} is not one this lord reads", sig.version),
            });
        }
        Ok(sig)
    }
}

fn message(digest: &Digest) -> Vec<u8> {
    let mut message = DOMAIN.to_vec();
    message.extend_from_slice(digest.as_bytes());
    message
}

/// The release message: its label, the platform and the version (each
/// ended by a zero byte, which neither may hold), then the digest.
fn release_message(digest: &Digest, release: &ReleaseStatement) -> Vec<u8> {
    let mut message = RELEASE_DOMAIN.to_vec();
    message.extend_from_slice(release.platform.as_bytes());
    message.push(0);
    message.extend_from_slice(release.version.as_bytes());
    message.push(0);
    message.extend_from_slice(digest.as_bytes());
    message
}

/// Who vouched for a package that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub key: KeyId,
    pub name: String,
}

/// Checks `signature` over `digest` against `trusted`, failing closed.
pub fn verify(
    signature: &Signature,
    digest: &Digest,
    trusted: &[PublicKey],
) -> Result<Verified, PackageError> {
    if let Some(release) = &signature.release {
        return Err(PackageError::ReleaseMismatch {
            signed: release.to_string(),
            offered: "a package".to_owned(),
        });
    }
    verify_message(signature, digest, &message(digest), trusted)
}

/// Checks that `signature` vouches for `digest` as `release`, under
/// `trusted`, failing closed: a package's signature, or one made for
/// another version or platform, is refused.
pub fn verify_release(
    signature: &Signature,
    digest: &Digest,
    release: &ReleaseStatement,
    trusted: &[PublicKey],
) -> Result<Verified, PackageError> {
    match &signature.release {
        Some(signed) if signed == release => {}
        Some(signed) => {
            return Err(PackageError::ReleaseMismatch {
                signed: signed.to_string(),
                offered: release.to_string(),
            });
        }
        None => {
            return Err(PackageError::ReleaseMismatch {
                signed: "a package".to_owned(),
                offered: release.to_string(),
            });
        }
    }
    verify_message(
        signature,
        digest,
        &release_message(digest, release),
        trusted,
    )
}

fn verify_message(
    signature: &Signature,
    digest: &Digest,
    message: &[u8],
    trusted: &[PublicKey],
) -> Result<Verified, PackageError> {
    let signed: Digest =
        signature
            .digest
            .parse()
            .map_err(|problem| PackageError::SignatureFormat {
                path: PathBuf::from("signature"),
                problem: format!("its digest is {problem}"),
            })?;
    if signed != *digest {
        return Err(PackageError::DigestMismatch {
            actual: digest.to_string(),
            signed: signature.digest.clone(),
        });
    }
    let key = trusted
        .iter()
        .find(|k| k.id() == signature.key)
        .ok_or_else(|| PackageError::UntrustedKey(signature.key.to_string()))?;
    let bytes = hex::decode(&signature.signature)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .ok_or_else(|| PackageError::BadSignature(signature.key.to_string()))?;
    key.key
        .verify_strict(message, &ed25519_dalek::Signature::from_bytes(&bytes))
        .map_err(|_| PackageError::BadSignature(signature.key.to_string()))?;
    Ok(Verified {
        key: key.id(),
        name: key.name.clone(),
    })
}

/// Checks a key name: `a-z`, `0-9`, `-`, `_`, `.`, 1 to 64 characters.
pub fn check_key_name(name: &str) -> Result<(), PackageError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(PackageError::KeyFormat {
            source_name: name.chars().take(64).collect(),
            problem: "a key name uses `a-z`, `0-9`, `-`, `_` and `.`, up to 64 characters"
                .to_owned(),
        })
    }
}

/// One key as `lord key list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub name: String,
    pub id: KeyId,
    /// A secret key is held here, so it can sign.
    pub can_sign: bool,
    pub trusted: bool,
}

/// The keys under one lord home.
#[derive(Debug, Clone)]
pub struct Keys {
    dir: PathBuf,
}

impl Keys {
    pub fn new(home: &Path) -> Self {
        Self {
            dir: home.join("keys"),
        }
    }

    fn trusted_dir(&self) -> PathBuf {
        self.dir.join("trusted")
    }

    fn ensure_dirs(&self) -> Result<(), PackageError> {
        for dir in [self.dir.clone(), self.trusted_dir()] {
            fs::create_dir_all(&dir).map_err(io("create", &dir))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                    .map_err(io("restrict", &dir))?;
            }
        }
        Ok(())
    }

    /// Makes a key named `name` and trusts it.
    ///
    /// The secret is the commit point: made only if no file of that name
    /// is there, so two runs at once cannot each make a key and leave a
    /// public key that does not match the secret. The public key and its
    /// trusted copy follow from the secret, so a run that finds the secret
    /// but no public key (one cut short after making it, or one still
    /// making it) writes them from the secret, the same bytes the maker
    /// writes, and reports the key as existing.
    pub fn generate(&self, name: &str) -> Result<PublicKey, PackageError> {
        check_key_name(name)?;
        self.ensure_dirs()?;
        let secret_path = self.dir.join(format!("{name}.secret"));
        let public_path = self.dir.join(format!("{name}.pub"));
        if public_path.exists() {
            return Err(PackageError::KeyExists(name.to_owned()));
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| PackageError::Io {
            action: "draw randomness for",
            path: secret_path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let made =
            lord_file::create_atomic(&secret_path, hex::encode(seed).as_bytes()).map_err(|e| {
                PackageError::Io {
                    action: e.action,
                    path: e.path,
                    source: e.source,
                }
            })?;
        let signing = if made {
            SigningKey::from_bytes(&seed)
        } else {
            self.signing(name)?
        };
        let public = PublicKey {
            key: signing.verifying_key(),
            name: name.to_owned(),
        };
        write_atomic(&public_path, public.to_text().as_bytes())?;
        self.trust(&public)?;
        if made {
            Ok(public)
        } else {
            Err(PackageError::KeyExists(name.to_owned()))
        }
    }

    /// Adds `key` to the trusted keys (again is harmless).
    pub fn trust(&self, key: &PublicKey) -> Result<(), PackageError> {
        self.ensure_dirs()?;
        let dir = self.trusted_dir();
        write_atomic(
            &dir.join(format!("{}.pub", key.id())),
            key.to_text().as_bytes(),
        )
    }

    /// The public key of the key named `name`.
    pub fn public(&self, name: &str) -> Result<PublicKey, PackageError> {
        check_key_name(name)?;
        let path = self.dir.join(format!("{name}.pub"));
        match fs::read_to_string(&path) {
            Ok(text) => PublicKey::parse(&path.display().to_string(), &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(PackageError::NoSuchKey(name.to_owned()))
            }
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    fn signing(&self, name: &str) -> Result<SigningKey, PackageError> {
        check_key_name(name)?;
        let path = self.dir.join(format!("{name}.secret"));
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PackageError::NoSuchKey(name.to_owned()));
            }
            Err(e) => return Err(io("read", &path)(e)),
        };
        let seed = hex::decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| PackageError::KeyFormat {
                source_name: path.display().to_string(),
                problem: "the secret key is not 64 hexadecimal digits; restore it from a backup"
                    .to_owned(),
            })?;
        Ok(SigningKey::from_bytes(&seed))
    }

    /// Signs `digest` with the key named `name`.
    pub fn sign(&self, name: &str, digest: &Digest) -> Result<Signature, PackageError> {
        let signing = self.signing(name)?;
        let public = PublicKey {
            key: signing.verifying_key(),
            name: name.to_owned(),
        };
        Ok(Signature {
            version: 1,
            key: public.id(),
            digest: digest.to_string(),
            signature: hex::encode(signing.sign(&message(digest)).to_bytes()),
            release: None,
        })
    }

    /// Signs `digest` with the key `name` as `release`: the bytes of lord
    /// `release.version` for `release.platform`, and nothing else.
    pub fn sign_release(
        &self,
        name: &str,
        digest: &Digest,
        release: ReleaseStatement,
    ) -> Result<Signature, PackageError> {
        release
            .check()
            .map_err(|problem| PackageError::SignatureFormat {
                path: PathBuf::from("the release"),
                problem,
            })?;
        let signing = self.signing(name)?;
        let public = PublicKey {
            key: signing.verifying_key(),
            name: name.to_owned(),
        };
        let signed = signing.sign(&release_message(digest, &release));
        Ok(Signature {
            version: 1,
            key: public.id(),
            digest: digest.to_string(),
            signature: hex::encode(signed.to_bytes()),
            release: Some(release),
        })
    }

    /// The keys whose signatures install.
    pub fn trusted(&self) -> Result<Vec<PublicKey>, PackageError> {
        let dir = self.trusted_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("read", &dir)(e)),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let path = entry.map_err(io("read", &dir))?.path();
            if path.extension().is_some_and(|e| e == "pub") {
                let text = fs::read_to_string(&path).map_err(io("read", &path))?;
                keys.push(PublicKey::parse(&path.display().to_string(), &text)?);
            }
        }
        keys.sort_by_key(PublicKey::id);
        Ok(keys)
    }

    /// Every key: the user's own (which can sign) and the trusted ones.
    pub fn list(&self) -> Result<Vec<KeyInfo>, PackageError> {
        let trusted = self.trusted()?;
        let mut infos = Vec::new();
        if let Ok(entries) = fs::read_dir(&self.dir) {
            for entry in entries {
                let path = entry.map_err(io("read", &self.dir))?.path();
                let Some(name) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".pub"))
                else {
                    continue;
                };
                let key = self.public(name)?;
                infos.push(KeyInfo {
                    name: name.to_owned(),
                    id: key.id(),
                    can_sign: self.dir.join(format!("{name}.secret")).is_file(),
                    trusted: trusted.iter().any(|t| t.id() == key.id()),
                });
            }
        }
        for key in trusted {
            if !infos.iter().any(|i| i.id == key.id()) {
                infos.push(KeyInfo {
                    name: key.name.clone(),
                    id: key.id(),
                    can_sign: false,
                    trusted: true,
                });
            }
        }
        infos.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(infos)
    }
}

/// Writes a file atomically (temporary file in `dir`, fsync, rename),
/// readable by the user only.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PackageError> {
    lord_file::write_atomic(path, bytes).map_err(|e| PackageError::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    })
}
