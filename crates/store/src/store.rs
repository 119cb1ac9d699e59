//! The store itself: opening, reading, and the atomic write operations.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use lord_manifest::{Manifest, Permission, PluginId};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreError;
use crate::failpoint::Failpoint;
use crate::layout::Layout;
use crate::record::{CommandArgRecord, InstalledPlugin, NewPlugin, PluginState};

/// Earlier builds kept per plugin for `lord plugin rollback`.
pub(crate) const KEEP_PREVIOUS: i64 = 3;

/// An enabled plugin that subscribes to events.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub id: PluginId,
    /// Its granted permissions (the `events-subscribe` patterns among them).
    pub granted: Vec<Permission>,
    /// Its manifest's filters on those patterns.
    pub filters: Vec<lord_manifest::EventFilter>,
}

/// The install store under one home directory.
#[derive(Debug)]
pub struct Store {
    pub(crate) layout: Layout,
    pub(crate) conn: Connection,
    failpoint: Failpoint,
    /// Manifests parsed in this process, by their text: a row's manifest
    /// never changes under the same text, so the parse is done once.
    pub(crate) manifests: Mutex<HashMap<String, Arc<Manifest>>>,
    /// Plugin rows read since the database last changed.
    pub(crate) rows: Mutex<crate::read::RowCache>,
}

/// Manifests kept parsed; past this the cache starts again (a process
/// sees a few dozen plugins, so this is a guard, not a tuning).
pub(crate) const MANIFESTS_KEPT: usize = 256;

impl Store {
    /// Opens (creating if needed) the store under `home`.
    pub fn open(home: &Path, failpoint: Failpoint) -> Result<Self, StoreError> {
        let layout = Layout {
            home: home.to_path_buf(),
        };
        lord_file::create_private_dir(home).map_err(StoreError::io("create", home))?;
        let conn = Connection::open(layout.db())?;
        let conn = match prepare(&conn, false) {
            Ok(()) => conn,
            // On a full disk SQLite cannot grow the shared-memory index a
            // WAL reader needs, and even `lord plugin list` would fail.
            // Holding the file alone keeps that index in memory, so reads
            // work (other lord processes wait their turn); writes are
            // refused and named by the caller.
            Err(e) if crate::error::is_no_space(&e) => {
                drop(conn);
                let conn = Connection::open(layout.db())?;
                prepare(&conn, true)?;
                conn
            }
            Err(e) => return Err(e),
        };
        Ok(Self {
            layout,
            conn,
            failpoint,
            manifests: Mutex::new(HashMap::new()),
            rows: Mutex::new(crate::read::RowCache::default()),
        })
    }

    pub fn home(&self) -> &Path {
        &self.layout.home
    }

    /// For a process about to exit. A store this process wrote to is
    /// closed, which folds its write-ahead log back into `lord.db` (so the
    /// next process does not replay it); one it only read is left open for
    /// the operating system to release, which is faster and leaves the log
    /// and index files in place for the next process to reuse. Either way
    /// every write was committed.
    /// Whether this process changed anything in the store.
    pub fn wrote(&self) -> bool {
        self.conn.total_changes() > 0
    }

    pub fn close_for_exit(self) {
        if self.conn.total_changes() == 0 {
            std::mem::forget(self);
        }
    }

    /// Where the compiled-code cache lives.
    pub fn cache_dir(&self) -> PathBuf {
        self.layout.cache()
    }

    /// The folder under which each plugin's `$PLUGIN_DATA` lives.
    pub fn data_root(&self) -> PathBuf {
        self.layout.data()
    }

    /// A plugin's `$PLUGIN_DATA` folder, created on demand.
    pub fn plugin_data_dir(&self, id: &PluginId) -> Result<PathBuf, StoreError> {
        let dir = self.layout.data().join(id.as_str());
        fs::create_dir_all(&dir).map_err(StoreError::io("create", &dir))?;
        Ok(dir)
    }

    /// Installs a plugin atomically; see the crate docs for the invariant.
    pub fn install(&mut self, new: NewPlugin) -> Result<InstalledPlugin, StoreError> {
        self.write(new, false)
    }

    /// Replaces an installed plugin with a new build, atomically: one
    /// transaction removes the old row (and its commands and micro ids) and
    /// records the new one, so a reader sees one version or the other. The
    /// old files become debris for the next sweep; the plugin's data stays.
    pub fn replace(&mut self, new: NewPlugin) -> Result<InstalledPlugin, StoreError> {
        self.write(new, true)
    }

    fn write(&mut self, new: NewPlugin, replace: bool) -> Result<InstalledPlugin, StoreError> {
        let _lock = self.lock()?;
        self.sweep()?;
        let id = new.manifest.plugin.id.clone();
        match (self.get(&id)?.is_some(), replace) {
            (true, false) => return Err(StoreError::AlreadyInstalled(id.to_string())),
            (false, true) => return Err(StoreError::NotInstalled(id.to_string())),
            (true, true) | (false, false) => {}
        }
        self.check_names_free(&new.manifest, &id)?;

        // 1. Stage: copy the files into a private folder and make them durable.
        let component_name = Path::new(&new.manifest.plugin.component)
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("plugin.wasm"));
        let staged = self.stage(&new, &component_name)?;

        // 2. Move into place. The folder name carries the content hash, and
        //    nothing refers to it until the row below is committed.
        let version = new.manifest.plugin.version.to_string();
        let rel = Layout::version_dir_rel(id.as_str(), &version, &new.wasm_sha256);
        let dest = self.layout.home.join(&rel);
        let parent = dest.parent().unwrap_or(&self.layout.home).to_path_buf();
        fs::create_dir_all(&parent).map_err(StoreError::io("create", &parent))?;
        let in_use: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM plugins WHERE dir = ?1)
                 OR EXISTS (SELECT 1 FROM previous WHERE dir = ?1)",
            [rel.to_string_lossy()],
            |r| r.get(0),
        )?;
        // Replacing a build with the very same bytes keeps the folder the
        // current row points at; the staged copy is dropped with `staged`.
        if !in_use && dest.exists() {
            // Debris of an interrupted install of these very bytes.
            fs::remove_dir_all(&dest).map_err(StoreError::io("clear", &dest))?;
        }
        if !in_use {
            let staged_path = staged.keep();
            fs::rename(&staged_path, &dest).map_err(StoreError::io("move into place", &dest))?;
            sync_dir(&parent)?;
        }
        self.failpoint.hit("install:moved");

        // 3. Commit: the plugin exists from this instant.
        let now = now();
        let granted = serde_json::to_string(
            &new.granted
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        )
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let programs =
            serde_json::to_string(&new.programs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let tx = self.conn.transaction()?;
        if replace {
            keep_previous(&tx, id.as_str(), now)?;
            tx.execute("DELETE FROM plugins WHERE id = ?1", [id.as_str()])?;
        }
        tx.execute(
            "INSERT INTO plugins (id, version, dir, component, wasm_sha256, manifest, state,
                                  reason, failures, last_error, granted, world, installed_at,
                                  updated_at, programs, package_digest, signer)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, 0, NULL, ?8, ?10, ?9, ?9, ?11, ?12, ?13)",
            params![
                id.as_str(),
                version,
                rel.to_string_lossy(),
                component_name.to_string_lossy(),
                new.wasm_sha256,
                new.manifest_text,
                PluginState::Installed.as_str(),
                granted,
                now,
                new.world.as_str(),
                programs,
                new.package_digest,
                new.signer,
            ],
        )?;
        insert_declarations(&tx, &id, &new.manifest)?;
        audit_in(
            &tx,
            now,
            id.as_str(),
            if replace { "replaced" } else { "installed" },
            &match &new.origin {
                Some(origin) => format!(
                    "version {version}, sha256 {}; from {origin}",
                    new.wasm_sha256
                ),
                None => format!("version {version}, sha256 {}", new.wasm_sha256),
            },
        )?;
        self.failpoint.hit("install:before-commit");
        tx.commit()?;
        self.failpoint.hit("install:committed");
        self.require(&id)
    }

    /// Refuses a manifest whose commands or micro-plugins another plugin
    /// already has.
    fn check_names_free(&self, manifest: &Manifest, id: &PluginId) -> Result<(), StoreError> {
        for command in &manifest.commands {
            if let Some(owner) = self.other_owner("commands", "name", command.name.as_str(), id)? {
                return Err(StoreError::CommandTaken {
                    command: command.name.to_string(),
                    owner,
                });
            }
        }
        for micro in &manifest.micro {
            if let Some(owner) = self.other_owner("micro", "id", micro.id.as_str(), id)? {
                return Err(StoreError::MicroTaken {
                    micro: micro.id.to_string(),
                    owner,
                });
            }
        }
        Ok(())
    }

    /// Copies a new build's manifest and component into a private staging
    /// folder and makes them durable.
    fn stage(
        &self,
        new: &NewPlugin,
        component_name: &Path,
    ) -> Result<tempfile::TempDir, StoreError> {
        let staging_root = self.layout.staging();
        fs::create_dir_all(&staging_root).map_err(StoreError::io("create", &staging_root))?;
        let staged = tempfile::Builder::new()
            .prefix("install-")
            .tempdir_in(&staging_root)
            .map_err(StoreError::io("create a staging folder in", &staging_root))?;
        write_durably(
            &staged.path().join("plugin.toml"),
            new.manifest_text.as_bytes(),
        )?;
        self.failpoint.hit("install:staging");
        let component_bytes = fs::read(&new.component_source)
            .map_err(StoreError::io("read", &new.component_source))?;
        write_durably(&staged.path().join(component_name), &component_bytes)?;
        sync_dir(staged.path())?;
        self.failpoint.hit("install:staged");
        Ok(staged)
    }

    /// Returns `id` to its most recent earlier build, in one transaction:
    /// the current build becomes the newest earlier one (so a second
    /// rollback undoes the first), the earlier one becomes current with
    /// the grants it had, its commands and micro-plugins restored, and the
    /// state `installed` (the caller enables it). Files are untouched: both
    /// builds' folders are kept.
    pub fn rollback(&mut self, id: &PluginId) -> Result<InstalledPlugin, StoreError> {
        let _lock = self.lock()?;
        self.require(id)?;
        let now = now();
        let tx = self.conn.transaction()?;
        let previous = tx
            .query_row(
                "SELECT seq, version, dir, component, wasm_sha256, manifest, granted, world,
                        programs, package_digest, signer
                 FROM previous WHERE plugin_id = ?1 ORDER BY seq DESC LIMIT 1",
                [id.as_str()],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        (r.get::<_, String>(6)?, r.get::<_, String>(8)?),
                        (
                            r.get::<_, String>(7)?,
                            r.get::<_, Option<String>>(9)?,
                            r.get::<_, Option<String>>(10)?,
                        ),
                    ))
                },
            )
            .optional()?
            .ok_or_else(|| StoreError::NoPrevious(id.to_string()))?;
        let (seq, version, dir, component, sha, manifest_text, (granted, programs), world) =
            previous;
        let (world, package_digest, signer) = world;
        let manifest = lord_manifest::parse(&format!("{id} {version} (kept)"), &manifest_text)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let from: String = tx.query_row(
            "SELECT version FROM plugins WHERE id = ?1",
            [id.as_str()],
            |r| r.get(0),
        )?;
        keep_previous(&tx, id.as_str(), now)?;
        tx.execute("DELETE FROM previous WHERE seq = ?1", [seq])?;
        tx.execute("DELETE FROM plugins WHERE id = ?1", [id.as_str()])?;
        tx.execute(
            "INSERT INTO plugins (id, version, dir, component, wasm_sha256, manifest, state,
                                  reason, failures, last_error, granted, world, installed_at,
                                  updated_at, programs, package_digest, signer)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, 0, NULL, ?8, ?9, ?10, ?10, ?11, ?12, ?13)",
            params![
                id.as_str(),
                version,
                dir,
                component,
                sha,
                manifest_text,
                PluginState::Installed.as_str(),
                granted,
                world,
                now,
                programs,
                package_digest,
                signer,
            ],
        )?;
        insert_declarations(&tx, id, &manifest)?;
        audit_in(
            &tx,
            now,
            id.as_str(),
            "rolled back",
            &format!("from version {from} to {version}, sha256 {sha}"),
        )?;
        self.failpoint.hit("rollback:before-commit");
        tx.commit()?;
        self.failpoint.hit("rollback:committed");
        self.require(id)
    }

    /// Forgets the earlier builds kept for `id` (every plugin when `None`)
    /// and deletes their folders; returns how many were dropped.
    pub fn prune(&mut self, id: Option<&PluginId>) -> Result<usize, StoreError> {
        let _lock = self.lock()?;
        let tx = self.conn.transaction()?;
        let dropped = match id {
            Some(id) => tx.execute("DELETE FROM previous WHERE plugin_id = ?1", [id.as_str()])?,
            None => tx.execute("DELETE FROM previous", [])?,
        };
        if let Some(id) = id {
            audit_in(
                &tx,
                now(),
                id.as_str(),
                "pruned",
                &format!("{dropped} earlier builds"),
            )?;
        }
        tx.commit()?;
        // The folders no row refers to any more are debris now.
        self.sweep()?;
        Ok(dropped)
    }

    /// Removes a plugin: the row goes first (atomically), then its files.
    pub fn remove(&mut self, id: &PluginId) -> Result<(), StoreError> {
        self.remove_disabling(id, &[])
    }

    /// Removes a plugin and, in the same transaction, disables `disable`
    /// (the plugins that depend on it), each with its reason: either all
    /// of it happens or none.
    pub fn remove_disabling(
        &mut self,
        id: &PluginId,
        disable: &[(&PluginId, &str)],
    ) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        let plugin = self.require(id)?;
        let tx = self.conn.transaction()?;
        for (other, reason) in disable {
            set_state_in(&tx, other, PluginState::Disabled, Some(reason))?;
        }
        tx.execute("DELETE FROM plugins WHERE id = ?1", [id.as_str()])?;
        tx.execute("DELETE FROM previous WHERE plugin_id = ?1", [id.as_str()])?;
        audit_in(
            &tx,
            now(),
            id.as_str(),
            "removed",
            &plugin.manifest.plugin.version.to_string(),
        )?;
        tx.commit()?;
        self.failpoint.hit("remove:committed");
        self.sweep()
    }

    /// Moves a plugin to `state`, with the reason shown by `plugin info`.
    pub fn set_state(
        &mut self,
        id: &PluginId,
        state: PluginState,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        self.set_states(&[(id, state, reason)])
    }

    /// Moves several plugins to their states in one transaction (a plugin
    /// disabled with the plugins that depend on it): all move or none.
    pub fn set_states(
        &mut self,
        changes: &[(&PluginId, PluginState, Option<&str>)],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for (id, state, reason) in changes {
            set_state_in(&tx, id, *state, *reason)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records the files `id`'s `exec(NAME)` grants now resolve to (a
    /// re-grant after a program moved), audited in the same transaction.
    pub fn set_programs(
        &mut self,
        id: &PluginId,
        programs: &[crate::GrantedProgram],
    ) -> Result<(), StoreError> {
        let text =
            serde_json::to_string(programs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let tx = self.conn.transaction()?;
        let changed = tx.execute(
            "UPDATE plugins SET programs = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), text, now()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotInstalled(id.to_string()));
        }
        let detail: Vec<String> = programs
            .iter()
            .map(|p| format!("{} = {}", p.name, p.path.display()))
            .collect();
        audit_in(
            &tx,
            now(),
            id.as_str(),
            "programs granted",
            &detail.join(", "),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records a failed call and returns the failures in a row so far.
    pub fn record_failure(&mut self, id: &PluginId, error: &str) -> Result<u32, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE plugins SET failures = failures + 1, last_error = ?2, updated_at = ?3
             WHERE id = ?1",
            params![id.as_str(), error, now()],
        )?;
        let failures: u32 = tx.query_row(
            "SELECT failures FROM plugins WHERE id = ?1",
            [id.as_str()],
            |r| r.get(0),
        )?;
        audit_in(&tx, now(), id.as_str(), "failure", error)?;
        tx.commit()?;
        Ok(failures)
    }

    /// Resets the breaker's count after a call that succeeded. Writes only
    /// when there is something to reset, so successful calls stay read-only.
    pub fn record_success(&mut self, id: &PluginId) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE plugins SET failures = 0 WHERE id = ?1 AND failures != 0")?
            .execute([id.as_str()])?;
        Ok(())
    }

    /// Records a refusal over a per-minute quota (`action` names the
    /// quota) and returns how many refusals of that quota the audit log
    /// holds from the last `within_secs` seconds since the plugin was last
    /// enabled: enabling it again starts the count afresh.
    pub fn record_throttle(
        &mut self,
        id: &PluginId,
        action: &str,
        detail: &str,
        within_secs: i64,
    ) -> Result<u32, StoreError> {
        let tx = self.conn.transaction()?;
        let at = now();
        audit_in(&tx, at, id.as_str(), action, detail)?;
        let strikes: u32 = tx.query_row(
            "SELECT COUNT(*) FROM audit
             WHERE plugin_id = ?1 AND action = ?2 AND at >= ?3
               AND seq > COALESCE(
                   (SELECT MAX(seq) FROM audit WHERE plugin_id = ?1 AND action = 'enabled'), 0)",
            params![id.as_str(), action, at.saturating_sub(within_secs)],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(strikes)
    }

    pub fn audit(&mut self, id: &PluginId, action: &str, detail: &str) -> Result<(), StoreError> {
        audit_in(&self.conn, now(), id.as_str(), action, detail)
    }

    /// The plugin other than `id` that holds `key` in `table`'s `column`.
    fn other_owner(
        &self,
        table: &str,
        column: &str,
        key: &str,
        id: &PluginId,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT plugin_id FROM {table} WHERE {column} = ?1 AND plugin_id != ?2"),
                [key, id.as_str()],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Takes the writers' lock; it is released when the file is dropped, and
    /// by the kernel if the process dies.
    fn lock(&self) -> Result<File, StoreError> {
        let path = self.layout.lock();
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(StoreError::io("open", &path))?;
        file.lock().map_err(StoreError::io("lock", &path))?;
        Ok(file)
    }

    /// Deletes what interrupted writes left behind: staging folders, and
    /// version folders no row refers to. Runs under the writers' lock.
    fn sweep(&self) -> Result<(), StoreError> {
        let staging = self.layout.staging();
        if staging.exists() {
            for entry in read_dir(&staging)? {
                remove_any(&entry)?;
            }
        }
        let plugins = self.layout.plugins();
        if !plugins.exists() {
            return Ok(());
        }
        let mut live = std::collections::HashSet::new();
        let mut stmt = self
            .conn
            .prepare("SELECT dir FROM plugins UNION SELECT dir FROM previous")?;
        for dir in stmt.query_map([], |r| r.get::<_, String>(0))? {
            live.insert(self.layout.home.join(dir?));
        }
        for plugin_dir in read_dir(&plugins)? {
            for version_dir in read_dir(&plugin_dir)? {
                if !live.contains(&version_dir) {
                    remove_any(&version_dir)?;
                }
            }
            if read_dir(&plugin_dir)?.is_empty() {
                fs::remove_dir(&plugin_dir).map_err(StoreError::io("remove", &plugin_dir))?;
            }
        }
        Ok(())
    }
}

/// Moves one plugin to `state` inside the caller's transaction, audited.
fn set_state_in(
    conn: &Connection,
    id: &PluginId,
    state: PluginState,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    let changed = conn.execute(
        "UPDATE plugins SET state = ?2, reason = ?3, updated_at = ?4 WHERE id = ?1",
        params![id.as_str(), state.as_str(), reason, now()],
    )?;
    if changed == 0 {
        return Err(StoreError::NotInstalled(id.to_string()));
    }
    audit_in(
        conn,
        now(),
        id.as_str(),
        state.as_str(),
        reason.unwrap_or(""),
    )
}

fn audit_in(
    conn: &Connection,
    at: i64,
    plugin: &str,
    action: &str,
    detail: &str,
) -> Result<(), StoreError> {
    crate::chain::append(conn, at, plugin, action, detail)
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let mut file = File::create(path).map_err(StoreError::io("create", path))?;
    file.write_all(bytes)
        .map_err(StoreError::io("write", path))?;
    file.sync_all().map_err(StoreError::io("sync", path))?;
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io("sync", dir))
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    fs::read_dir(dir)
        .and_then(|entries| {
            entries
                .map(|e| e.map(|e| e.path()))
                .collect::<io::Result<Vec<_>>>()
        })
        .map_err(StoreError::io("read", dir))
}

fn remove_any(path: &Path) -> Result<(), StoreError> {
    let result = if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    result.map_err(StoreError::io("remove", path))
}

/// Records `manifest`'s commands and micro-plugins as `id`'s.
fn insert_declarations(
    tx: &rusqlite::Transaction<'_>,
    id: &PluginId,
    manifest: &lord_manifest::Manifest,
) -> Result<(), StoreError> {
    for micro in &manifest.micro {
        tx.execute(
            "INSERT INTO micro (id, plugin_id) VALUES (?1, ?2)",
            params![micro.id.as_str(), id.as_str()],
        )?;
    }
    for command in &manifest.commands {
        let args: Vec<CommandArgRecord> = command
            .args
            .iter()
            .map(|a| CommandArgRecord {
                name: a.name.to_string(),
                help: a.help.clone(),
                required: a.required,
                multiple: a.multiple,
                flag: a.flag,
            })
            .collect();
        tx.execute(
            "INSERT INTO commands (name, plugin_id, about, args) VALUES (?1, ?2, ?3, ?4)",
            params![
                command.name.as_str(),
                id.as_str(),
                command.about,
                serde_json::to_string(&args).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            ],
        )?;
    }
    Ok(())
}

/// Copies `id`'s current row into `previous` and keeps only the newest
/// [`KEEP_PREVIOUS`] there; the folders of dropped ones become debris for
/// the next sweep.
fn keep_previous(tx: &rusqlite::Transaction<'_>, id: &str, now: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO previous (plugin_id, version, dir, component, wasm_sha256, manifest,
                               granted, world, programs, package_digest, signer, replaced_at)
         SELECT id, version, dir, component, wasm_sha256, manifest, granted, world, programs,
                package_digest, signer, ?2
         FROM plugins WHERE id = ?1",
        params![id, now],
    )?;
    tx.execute(
        "DELETE FROM previous WHERE plugin_id = ?1 AND seq NOT IN
            (SELECT seq FROM previous WHERE plugin_id = ?1 ORDER BY seq DESC LIMIT ?2)",
        params![id, KEEP_PREVIOUS],
    )?;
    Ok(())
}

/// Sets a connection up and brings the schema up to date. WAL lets
/// readers (`--help`, `list`) proceed while a writer works; FULL sync
/// makes a committed install survive a power cut. The busy timeout comes
/// first, so that even these pragmas wait for a writer in another process
/// instead of failing at once. `exclusive`: hold the file for this process
/// alone, which keeps SQLite's WAL index in memory (see `Store::open`).
fn prepare(conn: &Connection, exclusive: bool) -> Result<(), StoreError> {
    conn.execute_batch("PRAGMA busy_timeout = 10000;")?;
    if exclusive {
        conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE;")?;
    }
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )?;
    crate::schema::migrate(conn)
}
