//! Secrets: named values kept in the OS keyring where one runs, else
//! encrypted at rest in a file only the user can read.
//!
//! The backend is chosen by `secrets.backend`: `auto` (the default) uses
//! the keyring when a Secret Service answers on the session bus and the
//! file otherwise; `keyring` insists on it; `file` never asks. The choice
//! is made at the first secret operation, so commands that use no secret
//! never touch D-Bus. Reads look in the keyring first and then the file,
//! and writes to the keyring take the name out of the file, so a value set
//! before a keyring appeared is neither lost nor shadowed.
//!
//! The file store is `$LORD_HOME/secrets/store.enc`: ChaCha20-Poly1305
//! over the JSON map of names to values, under a random 256-bit key in
//! `$LORD_HOME/secrets/key`, both 0600 in a 0700 folder. The key beside the
//! store protects against copies of the store alone (backups, sync) and
//! against tampering (the tag fails); the file permissions protect against
//! other users. The same key seals sensitive events, whichever backend holds
//! the secrets.
//!
//! Invariant: a secret's value never appears in an error, a `Debug`
//! output, an event or a log: [`SecretValue`] prints as `[redacted]`, and
//! errors name the secret, never its value.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::error::StateError;
use crate::keyring::Keyring;

const MAGIC: &[u8] = b"LORDSEC1";
const NONCE: usize = 12;

/// A secret's value. Its `Debug` is `[redacted]`; read it with
/// [`SecretValue::expose`] only where it is handed on.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl SecretValue {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Seals and opens bytes with the secret store's key: what keeps events
/// marked sensitive encrypted at rest. Its `Debug` shows no key.
#[derive(Clone)]
pub struct Sealer {
    key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    /// A fresh random nonce, then the ciphertext and its tag.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, StateError> {
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce)
            .map_err(|e| StateError::Corrupt(format!("no randomness for a nonce: {e}")))?;
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.key));
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .map_err(|_| StateError::Corrupt("encryption failed".to_owned()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, StateError> {
        if sealed.len() < NONCE {
            return Err(StateError::Corrupt(
                "a sealed value is truncated".to_owned(),
            ));
        }
        let (nonce, body) = sealed.split_at(NONCE);
        ChaCha20Poly1305::new(Key::from_slice(&self.key))
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| {
                StateError::Corrupt(
                    "a sealed value does not decrypt; the secret key was replaced".to_owned(),
                )
            })
    }
}

/// Where secrets are kept: the `secrets.backend` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretsBackend {
    /// The OS keyring if one answers, else the encrypted file.
    #[default]
    Auto,
    /// The OS keyring, or an error saying why it cannot be reached.
    Keyring,
    /// The encrypted file only.
    File,
}

impl std::str::FromStr for SecretsBackend {
    type Err = StateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Self::Auto),
            "keyring" => Ok(Self::Keyring),
            "file" => Ok(Self::File),
            other => Err(StateError::Invalid {
                what: "secrets backend",
                value: other.chars().take(32).collect(),
                problem: "use `auto`, `keyring` or `file`".to_owned(),
            }),
        }
    }
}

/// Where one secret operation went, for the user to be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsLocation {
    Keyring,
    File,
}

impl std::fmt::Display for SecretsLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Keyring => "the OS keyring",
            Self::File => "the encrypted file",
        })
    }
}

/// The secret store under one home. Every operation reads the file (and
/// asks the keyring) afresh, so two processes see each other's changes;
/// file writers hold a lock.
#[derive(Debug, Clone)]
pub struct Secrets {
    dir: PathBuf,
    home: PathBuf,
    backend: SecretsBackend,
    /// The keyring connection, made at first use: `Ok(None)` when `auto`
    /// found none (or the backend is `file`), `Err` with the reason when
    /// `keyring` was asked for and none answers.
    keyring: Arc<OnceLock<Result<Option<Keyring>, String>>>,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StateError {
    let path = path.to_path_buf();
    move |source| StateError::Io {
        action,
        path,
        source,
    }
}

/// Checks a secret name: the same characters as an environment variable,
/// as `secret(NAME)` permissions use.
pub fn check_name(name: &str) -> Result<(), StateError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        return Ok(());
    }
    Err(StateError::Invalid {
        what: "secret name",
        value: name.chars().filter(|c| !c.is_control()).take(64).collect(),
        problem: "use `A-Z`, `0-9` and `_`, not starting with a digit, like `GITHUB_TOKEN`"
            .to_owned(),
    })
}

impl Secrets {
    /// The store under `home` with the `auto` backend.
    pub fn new(home: &Path) -> Self {
        Self::with_backend(home, SecretsBackend::Auto)
    }

    pub fn with_backend(home: &Path, backend: SecretsBackend) -> Self {
        Self {
            dir: home.join("secrets"),
            home: home.to_path_buf(),
            backend,
            keyring: Arc::new(OnceLock::new()),
        }
    }

    /// The keyring to use, connecting at the first call.
    fn keyring(&self) -> Result<Option<&Keyring>, StateError> {
        let connected = self.keyring.get_or_init(|| match self.backend {
            SecretsBackend::File => Ok(None),
            SecretsBackend::Auto => Ok(Keyring::connect(&self.home).ok()),
            SecretsBackend::Keyring => Keyring::connect(&self.home).map(Some),
        });
        match connected {
            Ok(keyring) => Ok(keyring.as_ref()),
            Err(reason) => Err(StateError::Keyring(format!(
                "`secrets.backend` is `keyring` but no OS keyring answers: {reason}; start a \
                 Secret Service (GNOME Keyring, KWallet, KeePassXC) or set \
                 `secrets.backend = \"file\"`"
            ))),
        }
    }

    /// Where [`Secrets::set`] puts a value.
    pub fn location(&self) -> Result<SecretsLocation, StateError> {
        Ok(match self.keyring()? {
            Some(_) => SecretsLocation::Keyring,
            None => SecretsLocation::File,
        })
    }

    fn store_path(&self) -> PathBuf {
        self.dir.join("store.enc")
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join("key")
    }

    fn ensure_dir(&self) -> Result<(), StateError> {
        fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
                .map_err(io("restrict", &self.dir))?;
        }
        Ok(())
    }

    /// The key, made on first use.
    fn key(&self, create: bool) -> Result<Option<[u8; 32]>, StateError> {
        let path = self.key_path();
        match fs::read(&path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes.try_into().map_err(|_| {
                    StateError::Corrupt(format!(
                        "`{}` is not a 32-byte key; restore it from a backup, or remove the \
                         secrets folder and set the secrets again",
                        path.display()
                    ))
                })?;
                Ok(Some(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                self.ensure_dir()?;
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|e| {
                    StateError::Corrupt(format!("no randomness for a secret key: {e}"))
                })?;
                // Made without replacing: two processes making the first
                // key at once (a `lord secret set` and the first sensitive
                // event) must agree on one, or what one sealed never opens.
                // The loser reads the winner's.
                if create_private(&path, &key)? {
                    Ok(Some(key))
                } else {
                    self.key(false)
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    fn load(&self, create: bool) -> Result<BTreeMap<String, String>, StateError> {
        let Some(key) = self.key(create)? else {
            return Ok(BTreeMap::new());
        };
        let path = self.store_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(io("read", &path)(e)),
        };
        let corrupt = |what: &str| {
            StateError::Corrupt(format!(
                "`{}` {what}; it was changed outside lord or its key was replaced",
                path.display()
            ))
        };
        let body = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| corrupt("is not a lord secret store"))?;
        if body.len() < NONCE {
            return Err(corrupt("is truncated"));
        }
        let (nonce, sealed) = body.split_at(NONCE);
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&key));
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| corrupt("does not decrypt"))?;
        serde_json::from_slice(&plain).map_err(|_| corrupt("does not hold a secret table"))
    }

    fn save(&self, table: &BTreeMap<String, String>) -> Result<(), StateError> {
        let Some(key) = self.key(true)? else {
            return Err(StateError::Corrupt("no secret key".to_owned()));
        };
        let plain = serde_json::to_vec(table)
            .map_err(|e| StateError::Corrupt(format!("unserialisable secrets: {e}")))?;
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce)
            .map_err(|e| StateError::Corrupt(format!("no randomness for a nonce: {e}")))?;
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&key));
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_slice())
            .map_err(|_| StateError::Corrupt("encryption failed".to_owned()))?;
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        write_private(&self.store_path(), &out)
    }

    /// Takes the writers' lock (released on drop, or by the kernel).
    fn lock(&self) -> Result<File, StateError> {
        self.ensure_dir()?;
        let path = self.dir.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        file.lock().map_err(io("lock", &path))?;
        Ok(file)
    }

    /// A sealer with this store's key (made on first use).
    pub fn sealer(&self) -> Result<Sealer, StateError> {
        let key = self
            .key(true)?
            .ok_or_else(|| StateError::Corrupt("no secret key".to_owned()))?;
        Ok(Sealer { key })
    }

    /// Stores `value` under `name` and says where. In the keyring, the
    /// name then leaves the file, so one place holds each secret.
    pub fn set(&self, name: &str, value: SecretValue) -> Result<SecretsLocation, StateError> {
        check_name(name)?;
        if let Some(keyring) = self.keyring()? {
            keyring.set(name, &value)?;
            self.remove_from_file(name)?;
            return Ok(SecretsLocation::Keyring);
        }
        let _lock = self.lock()?;
        let mut table = self.load(true)?;
        table.insert(name.to_owned(), value.0);
        self.save(&table)?;
        Ok(SecretsLocation::File)
    }

    pub fn get(&self, name: &str) -> Result<Option<SecretValue>, StateError> {
        check_name(name)?;
        if let Some(keyring) = self.keyring()?
            && let Some(value) = keyring.get(name)?
        {
            return Ok(Some(value));
        }
        Ok(self.load(false)?.remove(name).map(SecretValue))
    }

    /// The names of the stored secrets (never their values), sorted, with
    /// where each is kept.
    pub fn list(&self) -> Result<Vec<(String, SecretsLocation)>, StateError> {
        let mut names = BTreeMap::new();
        for name in self.load(false)?.into_keys() {
            names.insert(name, SecretsLocation::File);
        }
        if let Some(keyring) = self.keyring()? {
            for name in keyring.names()? {
                names.insert(name, SecretsLocation::Keyring);
            }
        }
        Ok(names.into_iter().collect())
    }

    /// The names of the stored secrets (never their values), sorted.
    pub fn names(&self) -> Result<Vec<String>, StateError> {
        Ok(self.list()?.into_iter().map(|(name, _)| name).collect())
    }

    /// Deletes `name` wherever it is kept; `false` if it was nowhere.
    pub fn remove(&self, name: &str) -> Result<bool, StateError> {
        check_name(name)?;
        let in_keyring = match self.keyring()? {
            Some(keyring) => keyring.remove(name)?,
            None => false,
        };
        Ok(self.remove_from_file(name)? || in_keyring)
    }

    fn remove_from_file(&self, name: &str) -> Result<bool, StateError> {
        if !self.store_path().exists() {
            return Ok(false);
        }
        let _lock = self.lock()?;
        let mut table = self.load(false)?;
        let removed = table.remove(name).is_some();
        if removed {
            self.save(&table)?;
        }
        Ok(removed)
    }
}

/// Writes `bytes` to `path` atomically (temporary file in `dir`, fsync,
/// rename), readable by the user only.
/// [`lord_file::create_atomic`], with its error as the store's.
fn create_private(path: &Path, bytes: &[u8]) -> Result<bool, StateError> {
    lord_file::create_atomic(path, bytes).map_err(|e| StateError::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    lord_file::write_atomic(path, bytes).map_err(|e| StateError::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    })
}
