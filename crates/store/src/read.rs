//! Reading the store: installed plugins (their manifests parsed once per
//! process), the commands table `--help` is built from, subscribers, kept
//! builds and the audit log. Every read is one query.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use lord_manifest::{Manifest, Permission, PluginId};
use rusqlite::OptionalExtension;

use crate::error::StoreError;
use crate::record::{AuditEntry, CommandRecord, InstalledPlugin};
use crate::store::{MANIFESTS_KEPT, Store, Subscriber};

/// Plugin rows as read, valid while the database is at `version` (its
/// `data_version`, and this connection's count of changed rows).
#[derive(Debug, Default)]
pub(crate) struct RowCache {
    version: Option<(i64, u64)>,
    plugins: HashMap<PluginId, Option<InstalledPlugin>>,
    commands: HashMap<String, Option<PluginId>>,
}

impl Store {
    /// Every installed plugin, by id.
    pub fn list(&self) -> Result<Vec<InstalledPlugin>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("{SELECT_PLUGIN} ORDER BY id"))?;
        let rows = stmt.query_map([], RawPlugin::from_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(self.decode(row?)?);
        }
        Ok(out)
    }

    /// Enabled plugins holding `events-subscribe` grants: each with those
    /// patterns and its manifest's filters on them. One query that parses
    /// only the matching rows.
    pub fn subscribers(&self) -> Result<Vec<Subscriber>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, granted, manifest FROM plugins
             WHERE state = 'enabled' AND granted LIKE '%events-subscribe(%' ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, granted, manifest) = row?;
            let filters = lord_manifest::parse(&format!("{id} (installed)"), &manifest)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?
                .event_filters;
            let id: PluginId = id
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("{e}")))?;
            let granted = parse_granted(&granted)?;
            out.push(Subscriber {
                id,
                granted,
                filters,
            });
        }
        Ok(out)
    }

    pub fn get(&self, id: &PluginId) -> Result<Option<InstalledPlugin>, StoreError> {
        let mut rows = self.fresh_rows()?;
        if let Some(hit) = rows.plugins.get(id) {
            return Ok(hit.clone());
        }
        // Cached statements: this runs on every plugin command.
        let raw = self
            .conn
            .prepare_cached(&format!("{SELECT_PLUGIN} WHERE id = ?1"))?
            .query_row([id.as_str()], RawPlugin::from_row)
            .optional()?;
        let plugin = raw.map(|raw| self.decode(raw)).transpose()?;
        rows.plugins.insert(id.clone(), plugin.clone());
        Ok(plugin)
    }

    pub fn command_owner(&self, command: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT plugin_id FROM commands WHERE name = ?1")?
            .query_row([command], |r| r.get(0))
            .optional()?)
    }

    /// The plugin that declared `command`, read in one query (what running
    /// a command needs first).
    pub fn command_plugin(&self, command: &str) -> Result<Option<InstalledPlugin>, StoreError> {
        let mut rows = self.fresh_rows()?;
        if let Some(owner) = rows.commands.get(command) {
            let Some(id) = owner.clone() else {
                return Ok(None);
            };
            if let Some(hit) = rows.plugins.get(&id) {
                return Ok(hit.clone());
            }
        }
        let raw = self
            .conn
            .prepare_cached(&format!(
                "{SELECT_PLUGIN} WHERE id = (SELECT plugin_id FROM commands WHERE name = ?1)"
            ))?
            .query_row([command], RawPlugin::from_row)
            .optional()?;
        let plugin = raw.map(|raw| self.decode(raw)).transpose()?;
        let id = plugin.as_ref().map(|p| p.id().clone());
        rows.commands.insert(command.to_owned(), id.clone());
        if let Some(id) = id {
            rows.plugins.insert(id, plugin.clone());
        }
        Ok(plugin)
    }

    /// The rows read so far, if nothing has changed the database since:
    /// neither this connection (its count of changed rows) nor another
    /// process (SQLite's `data_version`). Checking costs one pragma, not a
    /// query and a decode.
    fn fresh_rows(&self) -> Result<std::sync::MutexGuard<'_, RowCache>, StoreError> {
        let data_version: i64 = self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        let version = (data_version, self.conn.total_changes());
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        if rows.version != Some(version) {
            rows.plugins.clear();
            rows.commands.clear();
            rows.version = Some(version);
        }
        Ok(rows)
    }

    pub fn require(&self, id: &PluginId) -> Result<InstalledPlugin, StoreError> {
        self.get(id)?
            .ok_or_else(|| StoreError::NotInstalled(id.to_string()))
    }

    /// Every declared command with its owner's state: one query, no manifest
    /// parsing, so `--help` stays fast however many plugins are installed.
    pub fn commands(&self) -> Result<Vec<CommandRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT c.name, c.plugin_id, c.about, p.state, c.args
             FROM commands c JOIN plugins p ON p.id = c.plugin_id ORDER BY c.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, plugin, about, state, args) = row?;
            out.push(CommandRecord {
                name,
                plugin,
                about,
                state: state.parse().map_err(StoreError::Corrupt)?,
                args: serde_json::from_str(&args)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            });
        }
        Ok(out)
    }

    /// The whole audit trail with its links, oldest first.
    pub fn audit_chain(&self) -> Result<Vec<crate::chain::ChainRecord>, StoreError> {
        crate::chain::read(&self.conn)
    }

    /// The newest audit record with its links, if there is one.
    pub fn audit_newest(&self) -> Result<Option<crate::chain::ChainRecord>, StoreError> {
        crate::chain::newest(&self.conn)
    }

    /// Every plugin's audit records at or after `at` (Unix seconds),
    /// oldest first.
    pub fn audit_since(&self, at: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, at, plugin_id, action, detail FROM audit WHERE at >= ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([at], |r| {
            Ok(AuditEntry {
                seq: r.get(0)?,
                at: r.get(1)?,
                plugin: r.get(2)?,
                action: r.get(3)?,
                detail: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The audit log of one plugin, oldest first.
    pub fn audit_log(&self, id: &PluginId) -> Result<Vec<AuditEntry>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, at, plugin_id, action, detail FROM audit WHERE plugin_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([id.as_str()], |r| {
            Ok(AuditEntry {
                seq: r.get(0)?,
                at: r.get(1)?,
                plugin: r.get(2)?,
                action: r.get(3)?,
                detail: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The versions of the earlier builds kept for `id`, newest first.
    pub fn previous_versions(&self, id: &PluginId) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT version FROM previous WHERE plugin_id = ?1 ORDER BY seq DESC")?;
        let rows = stmt.query_map([id.as_str()], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// A row as an installed plugin, its manifest parsed at most once per
    /// process.
    fn decode(&self, raw: RawPlugin) -> Result<InstalledPlugin, StoreError> {
        let mut manifests = self.manifests.lock().unwrap_or_else(|p| p.into_inner());
        let manifest = match manifests.get(&raw.manifest) {
            Some(manifest) => Arc::clone(manifest),
            None => {
                let parsed =
                    lord_manifest::parse(&format!("{} (installed)", raw.id), &raw.manifest)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let parsed = Arc::new(parsed);
                if manifests.len() >= MANIFESTS_KEPT {
                    manifests.clear();
                }
                manifests.insert(raw.manifest.clone(), Arc::clone(&parsed));
                parsed
            }
        };
        drop(manifests);
        raw.decode(&self.layout.home, manifest)
    }
}

const SELECT_PLUGIN: &str = "SELECT id, dir, component, wasm_sha256, manifest, state, reason,
    failures, last_error, granted, installed_at, updated_at, world, programs, package_digest,
    signer
    FROM plugins";

/// A row as stored, before its text columns are parsed.
struct RawPlugin {
    id: String,
    dir: String,
    component: String,
    wasm_sha256: String,
    manifest: String,
    state: String,
    reason: Option<String>,
    failures: u32,
    last_error: Option<String>,
    granted: String,
    installed_at: i64,
    updated_at: i64,
    world: String,
    programs: String,
    package_digest: Option<String>,
    signer: Option<String>,
}

impl RawPlugin {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            dir: r.get(1)?,
            component: r.get(2)?,
            wasm_sha256: r.get(3)?,
            manifest: r.get(4)?,
            state: r.get(5)?,
            reason: r.get(6)?,
            failures: r.get(7)?,
            last_error: r.get(8)?,
            granted: r.get(9)?,
            installed_at: r.get(10)?,
            updated_at: r.get(11)?,
            world: r.get(12)?,
            programs: r.get(13)?,
            package_digest: r.get(14)?,
            signer: r.get(15)?,
        })
    }

    fn decode(self, home: &Path, manifest: Arc<Manifest>) -> Result<InstalledPlugin, StoreError> {
        let granted = parse_granted(&self.granted)?;
        let dir = home.join(&self.dir);
        Ok(InstalledPlugin {
            component: dir.join(&self.component),
            dir,
            manifest,
            wasm_sha256: self.wasm_sha256,
            state: self.state.parse().map_err(StoreError::Corrupt)?,
            reason: self.reason,
            consecutive_failures: self.failures,
            last_error: self.last_error,
            granted,
            installed_at: self.installed_at,
            updated_at: self.updated_at,
            world: self.world.parse().map_err(StoreError::Corrupt)?,
            programs: serde_json::from_str(&self.programs)
                .map_err(|e| StoreError::Corrupt(format!("programs: {e}")))?,
            package_digest: self.package_digest,
            signer: self.signer,
        })
    }
}

/// The `granted` column: a JSON list of permission strings.
fn parse_granted(text: &str) -> Result<Vec<Permission>, StoreError> {
    let granted: Vec<String> =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    granted
        .iter()
        .map(|p| p.parse::<Permission>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Failpoint, NewPlugin, PluginState, World};

    fn install(store: &mut Store, dir: &Path) {
        let text = "[plugin]\nid = \"cached\"\nname = \"Cached\"\nversion = \"0.1.0\"\n\
                    description = \"A plugin read through the row cache.\"\nhost-api = \"^0.2\"\n\
                    component = \"plugin.wasm\"\n\n[[commands]]\nname = \"cached\"\nabout = \"Runs\"\n";
        let component = dir.join("plugin.wasm");
        std::fs::write(&component, b"\0asm").expect("component");
        let manifest = lord_manifest::parse("plugin.toml", text).expect("manifest");
        store
            .install(NewPlugin {
                manifest,
                manifest_text: text.to_owned(),
                component_source: component,
                wasm_sha256: "00".repeat(32),
                granted: Vec::new(),
                world: World::Plugin,
                origin: None,
                programs: Vec::new(),
                package_digest: None,
                signer: None,
            })
            .expect("install");
    }

    /// A row read once is read again from the cache only while nothing
    /// changed: a change by this handle or by another process (another
    /// connection) is seen at the next read.
    #[test]
    fn cached_rows_never_hide_a_change() {
        let home = tempfile::tempdir().expect("home");
        let files = tempfile::tempdir().expect("files");
        let mut ours = Store::open(home.path(), Failpoint::new(None)).expect("store");
        let mut theirs = Store::open(home.path(), Failpoint::new(None)).expect("store");
        install(&mut theirs, files.path());
        let id: PluginId = "cached".parse().expect("id");
        let read = |store: &Store| {
            store
                .command_plugin("cached")
                .expect("read")
                .map(|p| p.state)
        };
        assert_eq!(read(&ours), Some(PluginState::Installed));
        assert_eq!(read(&ours), Some(PluginState::Installed), "a cached read");
        theirs
            .set_state(&id, PluginState::Disabled, Some("by another process"))
            .expect("disable");
        assert_eq!(read(&ours), Some(PluginState::Disabled));
        ours.set_state(&id, PluginState::Enabled, None)
            .expect("enable");
        assert_eq!(ours.require(&id).expect("row").state, PluginState::Enabled);
        theirs.remove(&id).expect("remove");
        assert_eq!(read(&ours), None);
        assert!(ours.get(&id).expect("read").is_none());
    }
}
