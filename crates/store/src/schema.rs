//! The store's schema and its migrations, run in one transaction keyed by
//! `PRAGMA user_version`.

use rusqlite::Connection;

use crate::error::StoreError;

const SCHEMA_VERSION: i64 = 5;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS plugins (
    id            TEXT PRIMARY KEY,
    version       TEXT NOT NULL,
    dir           TEXT NOT NULL,
    component     TEXT NOT NULL,
    wasm_sha256   TEXT NOT NULL,
    manifest      TEXT NOT NULL,
    state         TEXT NOT NULL,
    reason        TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    granted       TEXT NOT NULL,
    world         TEXT NOT NULL DEFAULT 'plugin',
    installed_at  INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    name       TEXT PRIMARY KEY,
    plugin_id  TEXT NOT NULL REFERENCES plugins(id) ON DELETE CASCADE,
    about      TEXT NOT NULL,
    args       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS micro (
    id         TEXT PRIMARY KEY,
    plugin_id  TEXT NOT NULL REFERENCES plugins(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS audit (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    plugin_id  TEXT NOT NULL,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS previous (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin_id    TEXT NOT NULL,
    version      TEXT NOT NULL,
    dir          TEXT NOT NULL,
    component    TEXT NOT NULL,
    wasm_sha256  TEXT NOT NULL,
    manifest     TEXT NOT NULL,
    granted      TEXT NOT NULL,
    world        TEXT NOT NULL,
    replaced_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS providers (
    id          TEXT PRIMARY KEY,
    state       TEXT NOT NULL,
    reason      TEXT,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS use_counts (
    day        INTEGER NOT NULL,
    plugin_id  TEXT NOT NULL,
    version    TEXT NOT NULL,
    runs       INTEGER NOT NULL,
    errors     INTEGER NOT NULL,
    PRIMARY KEY (day, plugin_id, version)
);
";

/// Schema changes after version 1, in order: `MIGRATIONS[n]` takes a store
/// from version `n + 1` to `n + 2`.
const MIGRATIONS: &[&str] = &[
    "
ALTER TABLE plugins ADD COLUMN world TEXT NOT NULL DEFAULT 'plugin';
CREATE TABLE IF NOT EXISTS micro (
    id         TEXT PRIMARY KEY,
    plugin_id  TEXT NOT NULL REFERENCES plugins(id) ON DELETE CASCADE
);
",
    "
CREATE TABLE IF NOT EXISTS previous (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin_id    TEXT NOT NULL,
    version      TEXT NOT NULL,
    dir          TEXT NOT NULL,
    component    TEXT NOT NULL,
    wasm_sha256  TEXT NOT NULL,
    manifest     TEXT NOT NULL,
    granted      TEXT NOT NULL,
    world        TEXT NOT NULL,
    replaced_at  INTEGER NOT NULL
);
",
    "
CREATE TABLE IF NOT EXISTS providers (
    id          TEXT PRIMARY KEY,
    state       TEXT NOT NULL,
    reason      TEXT,
    updated_at  INTEGER NOT NULL
);
",
    "
CREATE TABLE IF NOT EXISTS use_counts (
    day        INTEGER NOT NULL,
    plugin_id  TEXT NOT NULL,
    version    TEXT NOT NULL,
    runs       INTEGER NOT NULL,
    errors     INTEGER NOT NULL,
    PRIMARY KEY (day, plugin_id, version)
);
",
];

/// Brings the database at `conn` to this lord's schema: a new one is
/// created, an older one migrated; a newer one is refused.
pub(crate) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < SCHEMA_VERSION {
        // Several processes may open a new home at once. The write lock
        // is taken up front (`IMMEDIATE`), where the busy timeout
        // applies: a deferred transaction upgrading from a read would
        // get SQLITE_BUSY at once instead of waiting. The version is
        // read again under the lock, since another process may have
        // migrated meanwhile.
        conn.execute_batch("BEGIN IMMEDIATE;")?;
        let version: i64 = match conn.query_row("PRAGMA user_version", [], |r| r.get(0)) {
            Ok(current) => current,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK;");
                return Err(e.into());
            }
        };
        if version >= SCHEMA_VERSION {
            conn.execute_batch("COMMIT;")?;
            return Ok(());
        }
        // One transaction per migration run: a crash leaves the old
        // schema (and version) or the new one.
        let mut migration = String::new();
        if version == 0 {
            migration.push_str(SCHEMA);
        } else {
            for step in &MIGRATIONS[usize::try_from(version - 1).unwrap_or(0)..] {
                migration.push_str(step);
            }
        }
        migration.push_str(&format!("PRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"));
        conn.execute_batch(&migration)?;
    } else if version > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "schema version {version}, this lord understands up to {SCHEMA_VERSION}"
        )));
    }
    Ok(())
}
