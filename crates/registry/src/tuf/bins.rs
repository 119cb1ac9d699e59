//! Hashed bins: the plugins' targets signed in 256 delegated roles, so
//! that what a client downloads to resolve one plugin does not grow with
//! the whole registry.
//!
//! The top-level `targets.json` lists lord's own releases and delegates
//! every plugin to the bin `bins-XX`, where `XX` is the first byte of the
//! SHA-256 of the plugin id, by `paths` (`plugins/ID/*`). The standard
//! `path_hash_prefixes` hash the whole target path, which would spread
//! one plugin's versions over every bin; binning by the plugin id keeps
//! them in one, so a client resolving `hello` reads the top-level targets
//! and `bins-XX.json` alone. Each bin is a versioned file of its own
//! (`V.bins-XX.json`), and the snapshot lists every bin's version, length
//! and SHA-256.
//!
//! The bins are signed by the targets keys themselves (the delegation
//! lists them, with the same threshold). Every online key lives in the same
//! folder, so a separate bins key would add a file to manage without
//! separating any compromise; and a rotation of the targets keys then
//! changes the delegation's keys, which re-signs every bin.
//!
//! A signing re-signs the bins whose targets changed, plus the top-level
//! targets, the snapshot and the timestamp, and checks the expiry of one
//! sixteenth of the other bins in turn (`in_sweep_slice`), re-signing those
//! within half their lifetime of expiring; the timestamp refresh and
//! rotations check every bin. So a bin nobody publishes to never expires
//! under its clients, however busy or idle the registry. A bin re-signed
//! takes the version of the index it is signed in, which no earlier file
//! of that bin can have reached. An index signed before bins existed, with
//! every version in the top-level targets, is moved into bins at the next
//! start.
//!
//! Invariant: bins are written before the top-level targets and snapshot
//! that name them, and the timestamp last, each atomically; a crash leaves
//! the previous complete index (a bin file no snapshot names is
//! overwritten only by a later signing of the same index version, which
//! the crash left unused).
//! Invariant: a plugin's targets are only ever in its own bin, and a
//! bin's delegation `paths` list exactly the plugins it holds.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::Digest as _;
use tough::TargetName;
use tough::editor::signed::SignedRole;
use tough::key_source::KeySource;
use tough::schema::decoded::{Decoded, Hex};
use tough::schema::{
    DelegatedRole, DelegatedTargets, Delegations, Hashes, KeyHolder, Metafile, PathPattern,
    PathSet, RoleKeys, RoleType, Signed, Snapshot, Target, Targets, Timestamp,
};

use lord_registry_api::IndexEntry;

use super::rotation::Role;
use super::{TufRepo, expires_in, failed, nz, write_private};
use crate::error::{RegistryError, io};

/// The TUF specification version the metadata declares.
const SPEC: &str = "1.0.0";

/// The bin holding plugin `id`.
pub(super) fn bin_for(id: &str) -> String {
    format!("bins-{:02x}", sha2::Sha256::digest(id.as_bytes())[0])
}

/// The plugin a target belongs to (`plugins/ID/...`), if it is a plugin's.
fn plugin_of(target: &str) -> Option<&str> {
    let id = target.strip_prefix("plugins/")?.split('/').next()?;
    (!id.is_empty()).then_some(id)
}

/// The bins a signing of `entries` reads and re-signs.
pub(super) fn bins_of(entries: &[IndexEntry]) -> BTreeSet<String> {
    entries
        .iter()
        .filter_map(|e| plugin_of(&e.name).map(bin_for))
        .collect()
}

/// How many slices the bins are swept in: every signing checks the
/// expiry of one slice in turn (the bins whose number is the signing's
/// version modulo this), so with a signing at least every half timestamp
/// lifetime (12 hours by default: the refresh makes one when nothing
/// else does) every bin is checked at least every 8 days, well inside
/// the half targets lifetime (15 days) before which a bin is re-signed.
const SLICES: u64 = 16;

/// Whether the signing of index version `version` checks bin `name`'s
/// expiry (the shared index checks those bins out for it too).
pub(super) fn in_sweep_slice(version: u64, name: &str) -> bool {
    name.strip_prefix("bins-")
        .and_then(|n| u8::from_str_radix(n, 16).ok())
        .is_some_and(|n| u64::from(n) % SLICES == version % SLICES)
}

/// How much of the index a signing looks at besides the entries it signs
/// in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sweep {
    /// The bins of the entries (a publish or yank), and the expiry of one
    /// slice of the others ([`in_sweep_slice`]).
    Touched,
    /// Every bin, re-signing those near expiry (refresh, start-up,
    /// rotation, resync).
    Every,
}

/// One bin as the current metadata has it, and what this signing makes
/// of it.
#[derive(Debug, Default)]
struct Bin {
    /// Its current version; 0 for a bin this signing creates.
    version: u64,
    /// What the current snapshot says of it.
    meta: Option<Metafile>,
    /// The `paths` patterns of its delegation.
    paths: BTreeSet<String>,
    /// Its targets, once read (or created).
    targets: Option<HashMap<TargetName, Target>>,
    /// When its current file expires, once read (`None` for a new bin).
    expires: Option<jiff::Timestamp>,
    /// Whether this signing re-signs it.
    dirty: bool,
}

/// The index as the current metadata has it.
struct Current {
    /// The top-level targets (releases, and every plugin version in an
    /// index not yet binned).
    top: HashMap<TargetName, Target>,
    bins: BTreeMap<String, Bin>,
    /// The key ids the bins' delegation lists now.
    delegated_to: BTreeSet<Decoded<Hex>>,
}

fn target_of(entry: &IndexEntry) -> Result<(TargetName, Target), RegistryError> {
    let sha = hex::decode(&entry.digest).map_err(|e| failed("bad digest", e))?;
    let name = TargetName::new(entry.name.as_str()).map_err(|e| failed("bad target", e))?;
    Ok((
        name,
        Target {
            length: entry.length,
            hashes: Hashes {
                sha256: sha.into(),
                _extra: HashMap::new(),
            },
            custom: entry.custom.clone().into_iter().collect(),
            _extra: HashMap::new(),
        },
    ))
}

fn entry_of(name: &TargetName, target: &Target) -> IndexEntry {
    IndexEntry {
        name: name.raw().to_owned(),
        length: target.length,
        digest: hex::encode(&target.hashes.sha256),
        custom: target.custom.clone().into_iter().collect(),
    }
}

fn read_signed<T: serde::de::DeserializeOwned>(
    path: &std::path::Path,
) -> Result<Signed<T>, RegistryError> {
    let bytes = std::fs::read(path).map_err(io("read", path))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| failed(&format!("unreadable metadata {}", path.display()), e))
}

fn metafile(version: u64, length: u64, sha256: &[u8]) -> Metafile {
    Metafile {
        length: Some(length),
        hashes: Some(Hashes {
            sha256: sha256.to_vec().into(),
            _extra: HashMap::new(),
        }),
        version: nz(version),
        _extra: HashMap::new(),
    }
}

impl TufRepo {
    /// The current top-level targets, bins and delegation keys; empty
    /// before the first signing.
    fn current(&self, version: u64) -> Result<Current, RegistryError> {
        let mut current = Current {
            top: HashMap::new(),
            bins: BTreeMap::new(),
            delegated_to: BTreeSet::new(),
        };
        if version == 0 {
            return Ok(current);
        }
        let metadata = self.metadata();
        let top: Signed<Targets> = read_signed(&metadata.join(format!("{version}.targets.json")))?;
        let snapshot: Signed<Snapshot> =
            read_signed(&metadata.join(format!("{version}.snapshot.json")))?;
        current.top = top.signed.targets;
        for role in top.signed.delegations.map(|d| d.roles).unwrap_or_default() {
            let meta = snapshot.signed.meta.get(&format!("{}.json", role.name));
            let paths = match role.paths {
                PathSet::Paths(paths) => paths.iter().map(|p| p.value().to_owned()).collect(),
                // Never written by lord: a bin it cannot extend is
                // rebuilt from its targets' plugin ids when it changes.
                PathSet::PathHashPrefixes(_) => BTreeSet::new(),
            };
            current.delegated_to = role.keyids.iter().cloned().collect();
            current.bins.insert(
                role.name,
                Bin {
                    version: meta.map_or(0, |m| m.version.get()),
                    meta: meta.cloned(),
                    paths,
                    targets: None,
                    expires: None,
                    dirty: false,
                },
            );
        }
        Ok(current)
    }

    /// The top-level targets of the metadata in the folder (checked out
    /// under the signing lock).
    pub(super) fn top_level(&self) -> Result<Vec<IndexEntry>, RegistryError> {
        let current = self.current(self.current_version())?;
        Ok(current
            .top
            .iter()
            .map(|(name, target)| entry_of(name, target))
            .collect())
    }

    /// Reads a bin's targets into `bin` if they are not read yet.
    fn load_bin(&self, name: &str, bin: &mut Bin) -> Result<(), RegistryError> {
        if bin.targets.is_some() {
            return Ok(());
        }
        if bin.version == 0 {
            bin.targets = Some(HashMap::new());
            return Ok(());
        }
        let path = self.metadata().join(format!("{}.{name}.json", bin.version));
        let signed: Signed<Targets> = read_signed(&path)?;
        bin.expires = Some(signed.signed.expires);
        bin.targets = Some(signed.signed.targets);
        Ok(())
    }

    /// Whether a bin, once read, expires within half a targets lifetime
    /// (a new bin has no file yet: it is signed).
    fn bin_expiring(&self, bin: &Bin) -> bool {
        let half = jiff::SignedDuration::try_from(self.lifetimes().targets / 2)
            .unwrap_or(jiff::SignedDuration::ZERO);
        bin.expires.is_none_or(|at| {
            jiff::Timestamp::now()
                .checked_add(half)
                .is_ok_and(|soon| soon >= at)
        })
    }

    /// Puts one plugin target into its bin, reading the bin first.
    fn put(
        &self,
        bins: &mut BTreeMap<String, Bin>,
        name: TargetName,
        target: Target,
        id: &str,
    ) -> Result<(), RegistryError> {
        let bin_name = bin_for(id);
        let bin = bins.entry(bin_name.clone()).or_default();
        self.load_bin(&bin_name, bin)?;
        bin.paths.insert(format!("plugins/{id}/*"));
        if let Some(targets) = bin.targets.as_mut() {
            targets.insert(name, target);
        }
        bin.dirty = true;
        Ok(())
    }

    /// Whether the current top-level targets still list plugin versions:
    /// an index signed before bins, moved into them at the next signing.
    pub(super) fn is_flat(&self) -> Result<bool, RegistryError> {
        let current = self.current(self.current_version())?;
        Ok(current
            .top
            .keys()
            .any(|name| plugin_of(name.raw()).is_some()))
    }

    /// Every target the current metadata in the working folder lists, the
    /// top-level ones and every bin's, by name; empty before the first
    /// signing.
    pub(super) fn listed(&self) -> Result<BTreeMap<String, IndexEntry>, RegistryError> {
        let mut current = self.current(self.current_version())?;
        let mut listed: BTreeMap<String, IndexEntry> = current
            .top
            .iter()
            .map(|(name, target)| (name.raw().to_owned(), entry_of(name, target)))
            .collect();
        for (name, bin) in &mut current.bins {
            self.load_bin(name, bin)?;
            for (target_name, target) in bin.targets.iter().flatten() {
                listed.insert(target_name.raw().to_owned(), entry_of(target_name, target));
            }
        }
        Ok(listed)
    }

    /// Adds or replaces `entries` and signs the next version: the bins
    /// that changed (and, sweeping, those near expiry or signed by keys
    /// the delegation no longer lists), the top-level targets, snapshot and
    /// timestamp, with the online keys only. Returns the version signed.
    pub(super) async fn sign_next(
        &self,
        entries: &[IndexEntry],
        sweep: Sweep,
    ) -> Result<u64, RegistryError> {
        let next = self.current_version() + 1;
        let (_, _, root) = self.read_root()?;
        // The bins are signed by the keys the root lists for targets.
        let targets_role = root
            .signed
            .roles
            .get(&RoleType::Targets)
            .cloned()
            .ok_or_else(|| failed("the root lists no targets keys", "the root is not lord's"))?;
        let mut current = self.current(next - 1)?;
        self.gather(&mut current, next, entries, sweep, &targets_role)?;
        let delegations = delegations(&root.signed, &targets_role, &current.bins)?;
        let mut files = Vec::new();
        let meta = self
            .sign_bins(next, &mut current.bins, &delegations, &mut files)
            .await?;
        let top = Targets {
            spec_version: SPEC.to_owned(),
            version: nz(next),
            expires: expires_in(self.lifetimes().targets)?,
            targets: current.top,
            delegations: Some(delegations),
            _extra: HashMap::new(),
        };
        self.sign_top(top, &KeyHolder::Root(root.signed), meta, &mut files)
            .await?;
        // Bins, then the targets and snapshot naming them, the timestamp
        // last: each replaced atomically.
        for (name, bytes) in &files {
            write_private(&self.metadata().join(name), bytes)?;
        }
        Ok(next)
    }

    /// Puts `entries` (and, in an index from before bins, every plugin
    /// version of the top-level targets) into their bins, and marks for
    /// re-signing the bins whose delegation keys changed (a rotation of
    /// the targets keys) or, sweeping, that are near expiry.
    fn gather(
        &self,
        current: &mut Current,
        next: u64,
        entries: &[IndexEntry],
        sweep: Sweep,
        targets_role: &RoleKeys,
    ) -> Result<(), RegistryError> {
        let flat: Vec<TargetName> = current
            .top
            .keys()
            .filter(|name| plugin_of(name.raw()).is_some())
            .cloned()
            .collect();
        for name in flat {
            if let (Some(target), Some(id)) = (
                current.top.remove(&name),
                plugin_of(name.raw()).map(str::to_owned),
            ) {
                self.put(&mut current.bins, name, target, &id)?;
            }
        }
        for entry in entries {
            let (name, target) = target_of(entry)?;
            match plugin_of(&entry.name) {
                Some(id) => self.put(&mut current.bins, name, target, id)?,
                None => {
                    current.top.insert(name, target);
                }
            }
        }
        let keyids: BTreeSet<Decoded<Hex>> = targets_role.keyids.iter().cloned().collect();
        let rekey = keyids != current.delegated_to;
        for (name, bin) in &mut current.bins {
            if bin.dirty {
                continue;
            }
            let checked = sweep == Sweep::Every || in_sweep_slice(next, name);
            if rekey || checked {
                // One read serves both the expiry check and the re-signing.
                self.load_bin(name, bin).map_err(|e| {
                    if rekey {
                        RegistryError::Tuf(format!(
                            "the targets keys changed since the bins were signed, and re-signing \
                             them needs every bin: restart the server, whose start re-signs \
                             the whole index ({e})"
                        ))
                    } else {
                        e
                    }
                })?;
                bin.dirty = rekey || self.bin_expiring(bin);
            }
        }
        for bin in current.bins.values_mut() {
            if let Some(targets) = &bin.targets
                && bin.paths.is_empty()
            {
                // A bin delegated by hash prefixes: rebuilt as paths.
                bin.paths = targets
                    .keys()
                    .filter_map(|n| plugin_of(n.raw()))
                    .map(|id| format!("plugins/{id}/*"))
                    .collect();
            }
        }
        Ok(())
    }

    /// The online keys of `role`, read now.
    fn signers(&self, role: Role) -> Result<Vec<Box<dyn KeySource>>, RegistryError> {
        role.keys()
            .0
            .iter()
            .map(|name| self.key(name).map(|k| k.boxed()))
            .collect()
    }

    /// Signs the bins marked for it into `files`, each at `version`, the
    /// version of the index being signed: above any version the bin ever
    /// had (even one the current snapshot no longer lists, after a flat
    /// re-signing), and a file name no earlier signing used. Returns every
    /// bin's snapshot entry (the others' as they were).
    async fn sign_bins(
        &self,
        version: u64,
        bins: &mut BTreeMap<String, Bin>,
        delegations: &Delegations,
        files: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<HashMap<String, Metafile>, RegistryError> {
        let holder = KeyHolder::Delegations(delegations.clone());
        let signers = self.signers(Role::Targets)?;
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let expires = expires_in(self.lifetimes().targets)?;
        let mut meta = HashMap::new();
        for (name, bin) in bins {
            let file = format!("{name}.json");
            if !bin.dirty {
                if let Some(m) = bin.meta.take() {
                    meta.insert(file, m);
                }
                continue;
            }
            let role = DelegatedTargets {
                name: name.clone(),
                targets: Targets {
                    spec_version: SPEC.to_owned(),
                    version: nz(version),
                    expires,
                    targets: bin.targets.take().unwrap_or_default(),
                    delegations: None,
                    _extra: HashMap::new(),
                },
            };
            let signed = SignedRole::new(role, &holder, &signers, &rng)
                .await
                .map_err(|e| failed(&format!("could not sign the bin {name}"), e))?;
            meta.insert(file, metafile(version, *signed.length(), signed.sha256()));
            files.push((format!("{version}.{name}.json"), signed.buffer().clone()));
        }
        Ok(meta)
    }

    /// Signs the top-level targets, then the snapshot listing it and
    /// `meta`, then the timestamp, into `files` in that order.
    async fn sign_top(
        &self,
        top: Targets,
        root: &KeyHolder,
        mut meta: HashMap<String, Metafile>,
        files: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<(), RegistryError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let lifetimes = self.lifetimes();
        let version = top.version;
        let top = SignedRole::new(top, root, &self.signers(Role::Targets)?, &rng)
            .await
            .map_err(|e| failed("could not sign the targets", e))?;
        meta.insert(
            "targets.json".to_owned(),
            metafile(version.get(), *top.length(), top.sha256()),
        );
        files.push((format!("{version}.targets.json"), top.buffer().clone()));
        let mut snapshot = Snapshot::new(SPEC.to_owned(), version, expires_in(lifetimes.snapshot)?);
        snapshot.meta = meta;
        let snapshot = SignedRole::new(snapshot, root, &self.signers(Role::Snapshot)?, &rng)
            .await
            .map_err(|e| failed("could not sign the snapshot", e))?;
        let mut timestamp =
            Timestamp::new(SPEC.to_owned(), version, expires_in(lifetimes.timestamp)?);
        timestamp.meta.insert(
            "snapshot.json".to_owned(),
            metafile(version.get(), *snapshot.length(), snapshot.sha256()),
        );
        let timestamp = SignedRole::new(timestamp, root, &self.signers(Role::Timestamp)?, &rng)
            .await
            .map_err(|e| failed("could not sign the timestamp", e))?;
        files.push((
            format!("{version}.snapshot.json"),
            snapshot.buffer().clone(),
        ));
        files.push(("timestamp.json".to_owned(), timestamp.buffer().clone()));
        Ok(())
    }
}

/// The top-level targets' delegations: every bin, by the plugins it
/// holds, to the targets keys at their threshold.
fn delegations(
    root: &tough::schema::Root,
    targets_role: &RoleKeys,
    bins: &BTreeMap<String, Bin>,
) -> Result<Delegations, RegistryError> {
    let roles = bins
        .iter()
        .map(|(name, bin)| {
            let paths = bin
                .paths
                .iter()
                .map(|p| PathPattern::new(p.as_str()).map_err(|e| failed("bad plugin id", e)))
                .collect::<Result<_, _>>()?;
            Ok(DelegatedRole {
                name: name.clone(),
                keyids: targets_role.keyids.clone(),
                threshold: targets_role.threshold,
                paths: PathSet::Paths(paths),
                terminating: true,
                targets: None,
            })
        })
        .collect::<Result<_, RegistryError>>()?;
    Ok(Delegations {
        keys: root
            .keys
            .iter()
            .filter(|(id, _)| targets_role.keyids.contains(id))
            .map(|(id, key)| (id.clone(), key.clone()))
            .collect(),
        roles,
    })
}
