//! Reading the store: installed plugins (their manifests parsed once per
//! process), the commands table `--help` is built from, subscribers, kept
//! builds and the audit log. Every read is one query.

use std::path::Path;
use std::sync::Arc;

use lord_manifest::{Manifest, Permission, PluginId};
use rusqlite::OptionalExtension;

use crate::error::StoreError;
use crate::record::{AuditEntry, CommandRecord, InstalledPlugin};
use crate::store::{MANIFESTS_KEPT, Store, Subscriber};

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
        // Cached statements: this runs on every plugin command.
        let raw = self
            .conn
            .prepare_cached(&format!("{SELECT_PLUGIN} WHERE id = ?1"))?
            .query_row([id.as_str()], RawPlugin::from_row)
            .optional()?;
        raw.map(|raw| self.decode(raw)).transpose()
    }

    /// The plugin that declares `command`, by one indexed lookup (the hot
    /// path of every plugin command).
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
        let raw = self
            .conn
            .prepare_cached(&format!(
                "{SELECT_PLUGIN} WHERE id = (SELECT plugin_id FROM commands WHERE name = ?1)"
            ))?
            .query_row([command], RawPlugin::from_row)
            .optional()?;
        raw.map(|raw| self.decode(raw)).transpose()
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
    failures, last_error, granted, installed_at, updated_at, world FROM plugins";

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
