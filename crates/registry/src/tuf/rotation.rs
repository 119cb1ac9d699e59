//! Key rotation on the server: new keys for chosen roles, a root at the
//! next version signed by the old root key (and the new one when the root
//! key itself is replaced), then targets, snapshot and timestamp re-signed
//! with the new keys; and finishing a rotation a crash cut short.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use tough::editor::signed::SignedRole;
use tough::schema::{KeyHolder, RoleKeys, RoleType, Root, Signed};

use super::{Key, TufRepo, expires_in, failed, nz, restrict, write_private};
use crate::error::{RegistryError, io};

/// The roles whose keys the server holds and can rotate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Root,
    Targets,
    Snapshot,
    Timestamp,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Root, Role::Targets, Role::Snapshot, Role::Timestamp];

    /// Its key files under `keys/` (without `.der`) and its threshold.
    pub(super) fn keys(self) -> (&'static [&'static str], u64) {
        match self {
            Role::Root => (&["root"], 1),
            Role::Targets => (&["targets-1", "targets-2"], 2),
            Role::Snapshot => (&["snapshot"], 1),
            Role::Timestamp => (&["timestamp"], 1),
        }
    }

    pub(super) fn tough(self) -> RoleType {
        match self {
            Role::Root => RoleType::Root,
            Role::Targets => RoleType::Targets,
            Role::Snapshot => RoleType::Snapshot,
            Role::Timestamp => RoleType::Timestamp,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Targets => "targets",
            Role::Snapshot => "snapshot",
            Role::Timestamp => "timestamp",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The new root's version.
    pub root_version: u64,
    /// Each rotated role with its new key ids.
    pub roles: Vec<(Role, Vec<String>)>,
    /// The version targets, snapshot and timestamp were re-signed at.
    pub metadata_version: u64,
}

/// One role's keys as the newest root lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleKeyIds {
    pub role: Role,
    pub threshold: u64,
    pub keyids: Vec<String>,
}

/// The keys the newest root trusts, for `lord registry keys list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReport {
    pub root_version: u64,
    pub root_expires: String,
    pub roles: Vec<RoleKeyIds>,
    /// Whether the root key is on this machine (needed only to rotate).
    pub root_key_present: bool,
    /// The version of a root prepared for signing offline and not yet
    /// installed (`tuf/next.root.json`), if one waits.
    pub prepared_root: Option<u64>,
}

impl TufRepo {
    /// Replaces the keys of `roles` with new ones: a root at the next
    /// version listing them, signed by the current root key and, when the
    /// root key is among those replaced, by the new one too; then targets,
    /// snapshot and timestamp re-signed with the new online keys. The
    /// replaced keys are deleted: whatever they sign is refused from now
    /// on by every client that has seen the new root.
    pub async fn rotate(&self, roles: &[Role]) -> Result<Rotation, RegistryError> {
        if roles.is_empty() {
            return Err(failed("nothing to rotate", "name at least one role"));
        }
        let _guard = self.signing.lock().await;
        let lock = self.lock(super::Want::Every).await?;
        if self.newest_root()?.is_none() {
            self.write_first_root().await?;
        }
        let (version, _, old) = self.read_root()?;
        let old_root_key = self.key("root")?;
        let old_root_id = old_root_key
            .tuf_key()?
            .key_id()
            .map_err(|e| failed("key id", e))?;
        if !old.signed.roles[&RoleType::Root]
            .keyids
            .contains(&old_root_id)
        {
            return Err(RegistryError::Tuf(format!(
                "the root key in `{}` is not one the current root (version {version}) lists; \
                 put the right root key there",
                self.key_path("root").display()
            )));
        }

        let next = self.next_root(version, &old.signed, roles)?;
        self.drop_prepared()?;
        let (root, rotated, new_root_key) = (next.root, next.rotated, next.new_root_key);

        // Signed by the old root key (clients verify a new root against
        // the one they trust) and the new one (and against itself).
        let mut holder = root.clone();
        holder
            .keys
            .insert(old_root_id.clone(), old_root_key.tuf_key()?);
        if let Some(role) = holder.roles.get_mut(&RoleType::Root)
            && !role.keyids.contains(&old_root_id)
        {
            role.keyids.push(old_root_id);
        }
        let mut signers = vec![old_root_key.boxed()];
        if let Some(key) = &new_root_key {
            signers.push(key.boxed());
        }
        let signed = SignedRole::new(
            root,
            &KeyHolder::Root(holder),
            &signers,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .await
        .map_err(|e| failed("could not sign the new root", e))?;
        // The commit point: once this file exists the rotation happened.
        write_private(
            &self.metadata().join(format!("{}.root.json", version + 1)),
            signed.buffer(),
        )?;
        self.finish_rotation()?;
        let metadata_version = self.resign_locked(&[], super::Sweep::Every).await?;
        self.commit(lock).await?;
        self.checked.store(true, Ordering::Release);
        Ok(Rotation {
            root_version: version + 1,
            roles: rotated,
            metadata_version,
        })
    }

    /// Completes a rotation: the new keys the newest root lists replace
    /// the old ones, any others (a rotation that never wrote its root) are
    /// dropped, and `root.json` becomes the newest root. Idempotent. Keys
    /// waiting for a root prepared for offline signing (`offline.rs`) stay
    /// where they are until that root is installed.
    pub(super) fn finish_rotation(&self) -> Result<(), RegistryError> {
        let Some((version, newest)) = self.newest_root()? else {
            return Ok(());
        };
        let next_dir = self.next_key_dir();
        let awaited = self.prepared_version().is_some_and(|v| v > version);
        if next_dir.exists() && !awaited {
            let bytes = std::fs::read(&newest).map_err(io("read", &newest))?;
            let root: Signed<Root> =
                serde_json::from_slice(&bytes).map_err(|e| failed("unreadable root", e))?;
            let listed: Vec<String> = root.signed.keys.keys().map(hex::encode).collect();
            for entry in std::fs::read_dir(&next_dir).map_err(io("read", &next_dir))? {
                let entry = entry.map_err(io("read", &next_dir))?;
                let path = entry.path();
                let der = std::fs::read(&path).map_err(io("read", &path))?;
                let id = Key { der }
                    .tuf_key()?
                    .key_id()
                    .map_err(|e| failed("key id", e))?;
                if listed.contains(&hex::encode(id)) {
                    let into = self.dir.join("keys").join(entry.file_name());
                    std::fs::rename(&path, &into).map_err(io("move a key to", &into))?;
                }
            }
            // The moves are durable before their source goes: a power cut
            // must not leave a committed root whose online keys are in
            // neither folder.
            let keys = self.dir.join("keys");
            std::fs::File::open(&keys)
                .and_then(|folder| folder.sync_all())
                .map_err(io("sync", &keys))?;
            std::fs::remove_dir_all(&next_dir).map_err(io("remove", &next_dir))?;
        }
        let current = self.metadata().join("root.json");
        let bytes = std::fs::read(&newest).map_err(io("read", &newest))?;
        if std::fs::read(&current).ok().as_deref() != Some(bytes.as_slice()) {
            write_private(&current, &bytes)?;
        }
        Ok(())
    }

    /// The keys the newest root lists, by role.
    pub fn keys(&self) -> Result<KeyReport, RegistryError> {
        let (version, _, root) = self.read_root()?;
        let roles = Role::ALL
            .iter()
            .filter_map(|role| {
                let keys = root.signed.roles.get(&role.tough())?;
                Some(RoleKeyIds {
                    role: *role,
                    threshold: keys.threshold.get(),
                    keyids: keys.keyids.iter().map(hex::encode).collect(),
                })
            })
            .collect();
        Ok(KeyReport {
            root_version: version,
            root_expires: root.signed.expires.to_string(),
            roles,
            root_key_present: self.key_path("root").is_file(),
            prepared_root: self.prepared_version().filter(|v| *v > version),
        })
    }
}

/// A root at the next version with new keys for some roles, not yet
/// signed; the new keys wait in `keys/next/`.
pub(super) struct NextRoot {
    pub(super) root: Root,
    pub(super) rotated: Vec<(Role, Vec<String>)>,
    /// The new root key, when the root role is among those rotated.
    pub(super) new_root_key: Option<Key>,
}

impl TufRepo {
    /// Makes new keys for `roles` (into `keys/next/`, replacing whatever
    /// an unfinished rotation left there) and the root at `version + 1`
    /// that lists them in place of the old ones.
    pub(super) fn next_root(
        &self,
        version: u64,
        old: &Root,
        roles: &[Role],
    ) -> Result<NextRoot, RegistryError> {
        // New keys wait in keys/next/ until the new root is written.
        let next_dir = self.next_key_dir();
        if next_dir.exists() {
            std::fs::remove_dir_all(&next_dir).map_err(io("remove", &next_dir))?;
        }
        std::fs::create_dir_all(&next_dir).map_err(io("create", &next_dir))?;
        restrict(&next_dir)?;
        let mut root = old.clone();
        root.version = nz(version + 1);
        root.expires = expires_in(self.lifetimes().root)?;
        let mut rotated = Vec::new();
        let mut new_root_key = None;
        let mut wanted: Vec<Role> = roles.to_vec();
        wanted.sort();
        wanted.dedup();
        for role in wanted {
            let (names, threshold) = role.keys();
            let mut keyids = Vec::new();
            for name in names {
                let key = Key::generate()?;
                write_private(&next_dir.join(format!("{name}.der")), &key.der)?;
                let public = key.tuf_key()?;
                let id = public.key_id().map_err(|e| failed("key id", e))?;
                root.keys.insert(id.clone(), public);
                keyids.push(id);
                if role == Role::Root {
                    new_root_key = Some(key);
                }
            }
            rotated.push((role, keyids.iter().map(hex::encode).collect()));
            root.roles.insert(
                role.tough(),
                RoleKeys {
                    keyids,
                    threshold: nz(threshold),
                    _extra: HashMap::new(),
                },
            );
        }
        // Keys no role lists any more leave the root.
        let listed: Vec<_> = root
            .roles
            .values()
            .flat_map(|r| r.keyids.iter().cloned())
            .collect();
        root.keys.retain(|id, _| listed.contains(id));

        Ok(NextRoot {
            root,
            rotated,
            new_root_key,
        })
    }
}
