//! The root key kept offline: the server prepares the next root unsigned,
//! the root key signs it wherever it is kept ([`sign_root`], `lord registry
//! root sign`, run against a folder that holds only that key), and the
//! server installs the signed root ([`TufRepo::install_root`], `lord
//! registry root install`), which commits the rotation as
//! [`TufRepo::rotate`] would have.
//!
//! The server never makes a root key. A root key is replaced where it is
//! kept: the server prepares the next root naming the root role (its keys
//! left as they are), and `sign_root` with a new root key makes that key
//! in the root key's folder as a new file, names it in the root role in
//! place of the old key, and signs with the old key (which clients trust)
//! and the new one (which the new root names). Signing uses whichever keys
//! in the folder the root's role lists, so after a replacement the next
//! root is signed by the new key without renaming anything, and no key
//! file is ever overwritten or removed: the operator deletes the old one
//! once the new root is installed.
//!
//! Invariant: an installed root is checked as a client will check it
//! (the current root's threshold of root signatures, its own threshold,
//! the next version, not expired) and must list only online keys this
//! server holds, so installing can neither break clients nor strand the
//! server without the keys its root names.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use tough::editor::signed::SignedRole;
use tough::schema::{KeyHolder, RoleType, Root, Signed};

use super::{Key, Role, TufRepo, failed, write_private};
use crate::error::{RegistryError, io};

/// A root prepared for signing offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRoot {
    /// Where the unsigned root was written (`tuf/next.root.json`).
    pub path: PathBuf,
    pub version: u64,
    /// Each rotated role with its new key ids.
    pub roles: Vec<(Role, Vec<String>)>,
}

/// A root as signed offline: its version and the key ids that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRoot {
    pub version: u64,
    pub expires: String,
    pub signed_by: Vec<String>,
    /// With a new root key: its id, and where the retired key was kept.
    pub new_root_key: Option<(String, PathBuf)>,
}

/// Whether [`sign_root`] signs with the root key as it is, or replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKey {
    /// Sign with `root.der`.
    Keep,
    /// Make a new root key (saved as `root-KEYID.der` beside the old one),
    /// name it in the root role in place of the old key, and sign with
    /// both. The old key file stays until the operator deletes it, once the
    /// new root is installed.
    Replace,
}

fn unreadable(what: &str) -> impl Fn(serde_json::Error) -> RegistryError + '_ {
    move |e| RegistryError::Tuf(format!("{what} is not a TUF root: {e}"))
}

fn root_role_ids(root: &Root) -> Vec<String> {
    root.roles
        .get(&RoleType::Root)
        .map(|r| r.keyids.iter().map(hex::encode).collect())
        .unwrap_or_default()
}

/// Adds the signatures of the root keys in `key_dir` that `root`'s root
/// role lists (the current root's keys: a prepared root keeps them) to
/// it, keeping the signatures it already carries (so root keys kept in
/// different places can sign in turn), and returns the file's new bytes.
/// With none of them there, `key_dir/root.der` signs (a retiring key
/// signing the root that replaces it). With [`RootKey::Replace`], first
/// makes the new root key (see [`RootKey`]).
pub async fn sign_root(
    root: &[u8],
    key_dir: &Path,
    root_key: RootKey,
) -> Result<(Vec<u8>, SignedRoot), RegistryError> {
    let mut signed: Signed<Root> =
        serde_json::from_slice(root).map_err(unreadable("the root to sign"))?;
    let listed = root_role_ids(&signed.signed);
    let mut signers: Vec<Key> = keys_in(key_dir)?
        .into_iter()
        .filter(|(_, id)| listed.contains(id))
        .map(|(key, _)| key)
        .collect();
    let new_root_key = match root_key {
        RootKey::Keep => None,
        RootKey::Replace => {
            let old = signers.first().cloned().ok_or_else(|| {
                RegistryError::Tuf(format!(
                    "no key in `{}` is one this root's root role lists ({}), so none can vouch \
                     for a new one: run this where the current root key is kept",
                    key_dir.display(),
                    listed.join(", ")
                ))
            })?;
            let (new, path) = replace_root_key(&mut signed, key_dir, &old)?;
            signers.push(new.clone());
            Some((new, path))
        }
    };
    if signers.is_empty() {
        let path = key_dir.join("root.der");
        signers.push(Key {
            der: std::fs::read(&path).map_err(io("read the root key", &path))?,
        });
    }
    let mut summary = None;
    for key in &signers {
        let (next, next_summary) = add_signature(signed, key).await?;
        signed = next;
        summary = Some(next_summary);
    }
    let mut summary = summary.ok_or_else(|| failed("no root key", "nothing signed"))?;
    if let Some((new, path)) = new_root_key {
        let id = new.tuf_key()?.key_id().map_err(|e| failed("key id", e))?;
        summary.new_root_key = Some((hex::encode(id), path));
    }
    let mut bytes = serde_json::to_vec_pretty(&signed).map_err(|e| failed("root", e))?;
    bytes.push(b'\n');
    Ok((bytes, summary))
}

/// Every key in `dir` (`*.der` that parse as one) with its id.
fn keys_in(dir: &Path) -> Result<Vec<(Key, String)>, RegistryError> {
    let mut keys = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io("read the root key folder", dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "der"))
        .collect();
    paths.sort();
    for path in paths {
        let key = Key {
            der: std::fs::read(&path).map_err(io("read", &path))?,
        };
        if let Ok(id) = key
            .tuf_key()
            .and_then(|k| k.key_id().map_err(|e| failed("key id", e)))
        {
            keys.push((key, hex::encode(id)));
        }
    }
    Ok(keys)
}

/// Makes a new root key, saved as a new file `root-KEYID.der` in
/// `key_dir` (nothing there is overwritten or removed, so a lost signed
/// root or a second run loses no key), and names it in `signed`'s root
/// role in place of `old`, keeping any other root keys and the threshold.
/// Refused on a root that already carries signatures, which the change
/// would void.
fn replace_root_key(
    signed: &mut Signed<Root>,
    key_dir: &Path,
    old: &Key,
) -> Result<(Key, PathBuf), RegistryError> {
    if !signed.signatures.is_empty() {
        return Err(RegistryError::Tuf(
            "this root already carries signatures, which a new root key would void: replace \
             the root key on the unsigned root the server prepared, then let other root keys \
             sign"
                .to_owned(),
        ));
    }
    let old_id = old.tuf_key()?.key_id().map_err(|e| failed("key id", e))?;
    let new = Key::generate()?;
    let public = new.tuf_key()?;
    let id = public.key_id().map_err(|e| failed("key id", e))?;
    let hex_id = hex::encode(&id);
    let path = key_dir.join(format!("root-{}.der", &hex_id[..16]));
    if path.exists() {
        return Err(failed(
            "a new root key",
            "its file name is taken; run again",
        ));
    }
    write_private(&path, &new.der)?;
    let root = &mut signed.signed;
    root.keys.insert(id.clone(), public);
    if let Some(role) = root.roles.get_mut(&RoleType::Root) {
        for keyid in &mut role.keyids {
            if *keyid == old_id {
                *keyid = id.clone();
            }
        }
    }
    // The old key leaves the root unless another role lists it.
    if !root.roles.values().any(|r| r.keyids.contains(&old_id)) {
        root.keys.remove(&old_id);
    }
    Ok((new, path))
}

/// `signed` with `key`'s signature added (replacing an earlier one of the
/// same key), and the summary of what signs it now.
async fn add_signature(
    mut signed: Signed<Root>,
    key: &Key,
) -> Result<(Signed<Root>, SignedRoot), RegistryError> {
    let public = key.tuf_key()?;
    let id = public.key_id().map_err(|e| failed("key id", e))?;
    // tough signs with the keys its holder lists for the role: list this
    // key there whether or not the new root still does (a retiring root
    // key signs the root that replaces it).
    let mut holder = signed.signed.clone();
    holder.keys.insert(id.clone(), public);
    if let Some(role) = holder.roles.get_mut(&RoleType::Root)
        && !role.keyids.contains(&id)
    {
        role.keyids.push(id.clone());
    }
    let fresh = SignedRole::new(
        signed.signed.clone(),
        &KeyHolder::Root(holder),
        &[key.boxed()],
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .await
    .map_err(|e| failed("could not sign the root", e))?;
    signed.signatures.retain(|s| s.keyid != id);
    signed
        .signatures
        .extend(fresh.signed().signatures.iter().cloned());
    let summary = SignedRoot {
        version: signed.signed.version.get(),
        expires: signed.signed.expires.to_string(),
        signed_by: signed
            .signatures
            .iter()
            .map(|s| hex::encode(&s.keyid))
            .collect(),
        new_root_key: None,
    };
    Ok((signed, summary))
}

impl TufRepo {
    fn prepared_path(&self) -> PathBuf {
        self.dir.join("next.root.json")
    }

    /// Forgets the root prepared for offline signing, if any: installed,
    /// or replaced by a rotation made here.
    pub(super) fn drop_prepared(&self) -> Result<(), RegistryError> {
        let prepared = self.prepared_path();
        if prepared.exists() {
            std::fs::remove_file(&prepared).map_err(io("remove", &prepared))?;
        }
        Ok(())
    }

    /// The version of the root prepared for offline signing, if one waits.
    pub(super) fn prepared_version(&self) -> Option<u64> {
        let bytes = std::fs::read(self.prepared_path()).ok()?;
        serde_json::from_slice::<Signed<Root>>(&bytes)
            .ok()
            .map(|r| r.signed.version.get())
    }

    /// Makes new keys for the online `roles` (into `keys/next/`) and writes
    /// the next root listing them, unsigned, to `tuf/next.root.json`, for
    /// the root key to sign wherever it is kept. Nothing changes for
    /// clients until the signed root is installed.
    pub async fn prepare_root(&self, roles: &[Role]) -> Result<PreparedRoot, RegistryError> {
        if roles.is_empty() {
            return Err(failed(
                "cannot prepare that root",
                "name the roles to rotate (root, targets, snapshot, timestamp)",
            ));
        }
        // The root key is never made here: naming the root role leaves
        // its keys as they are, for `sign_root` to replace where it is kept.
        let online: Vec<Role> = roles.iter().copied().filter(|r| *r != Role::Root).collect();
        let _guard = self.signing.lock().await;
        let _lock = self.lock(super::Want::Every).await?;
        let (version, _, old) = self.read_root()?;
        let mut next = self.next_root(version, &old.signed, &online)?;
        if roles.contains(&Role::Root) {
            next.rotated.push((Role::Root, Vec::new()));
        }
        let unsigned = Signed {
            signed: next.root,
            signatures: Vec::new(),
        };
        let mut bytes = serde_json::to_vec_pretty(&unsigned).map_err(|e| failed("root", e))?;
        bytes.push(b'\n');
        let path = self.prepared_path();
        write_private(&path, &bytes)?;
        Ok(PreparedRoot {
            path,
            version: version + 1,
            roles: next.rotated,
        })
    }

    /// Installs a root signed offline: checked as a client will check it,
    /// and for keys this server holds; then the rotation is committed and
    /// targets, snapshot and timestamp are re-signed with the new keys.
    /// Returns the version the index was re-signed at.
    pub async fn install_root(&self, bytes: &[u8]) -> Result<u64, RegistryError> {
        let new: Signed<Root> =
            serde_json::from_slice(bytes).map_err(unreadable("the signed root"))?;
        let _guard = self.signing.lock().await;
        let lock = self.lock(super::Want::Every).await?;
        let (version, _, old) = self.read_root()?;
        let refused = |why: String| RegistryError::Tuf(format!("refusing this root: {why}"));
        if new.signed.version.get() != version + 1 {
            return Err(refused(format!(
                "it is version {}, and the next root must be version {}",
                new.signed.version,
                version + 1
            )));
        }
        old.signed.verify_role(&new).map_err(|e| {
            refused(format!(
                "it is not signed by the current root's key(s) {}: {e}; sign it with \
                 `lord registry root sign` where the root key is kept",
                root_role_ids(&old.signed).join(", ")
            ))
        })?;
        new.signed
            .verify_role(&new)
            .map_err(|e| refused(format!("it is not signed by its own root key(s): {e}")))?;
        if new.signed.expires <= jiff::Timestamp::now() {
            return Err(refused(format!("it expired at {}", new.signed.expires)));
        }
        self.check_online_keys_held(&new.signed)
            .map_err(|name| refused(format!("it lists a {name} key this server does not hold; prepare the root on this server (`lord registry keys rotate`) and sign that one")))?;
        write_private(
            &self.metadata().join(format!("{}.root.json", version + 1)),
            bytes,
        )?;
        self.drop_prepared()?;
        self.finish_rotation()?;
        let metadata_version = self.resign_locked(&[], super::Sweep::Every).await?;
        self.commit(lock).await?;
        self.checked.store(true, Ordering::Release);
        Ok(metadata_version)
    }

    /// Whether every key `root` lists for an online role is one this
    /// server holds (in `keys/` or waiting in `keys/next/`); the role of
    /// the first that is not.
    fn check_online_keys_held(&self, root: &Root) -> Result<(), &'static str> {
        let mut held = Vec::new();
        for dir in [self.dir.join("keys"), self.next_key_dir()] {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let Ok(der) = std::fs::read(entry.path()) else {
                    continue;
                };
                if let Ok(id) = (Key { der })
                    .tuf_key()
                    .and_then(|k| k.key_id().map_err(|e| failed("key id", e)))
                {
                    held.push(id);
                }
            }
        }
        for role in [Role::Targets, Role::Snapshot, Role::Timestamp] {
            let listed = root.roles.get(&role.tough());
            if listed.is_none_or(|r| r.keyids.iter().any(|id| !held.contains(id))) {
                return Err(role.name());
            }
        }
        Ok(())
    }
}
