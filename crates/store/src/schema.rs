//! The store's schema and its migrations, run in one transaction keyed by
//! `PRAGMA user_version`.

use rusqlite::Connection;

use crate::error::StoreError;

const SCHEMA_VERSION: i64 = 9;

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
    programs      TEXT NOT NULL DEFAULT '[]',
    package_digest TEXT,
    signer        TEXT,
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
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL DEFAULT '',
    hash       TEXT NOT NULL DEFAULT ''
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
    programs     TEXT NOT NULL DEFAULT '[]',
    package_digest TEXT,
    signer       TEXT,
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
    // The file each `exec(NAME)` grant was resolved to when it was
    // granted. Plugins installed before have none recorded: their runs
    // are refused, saying to grant the program again.
    "
ALTER TABLE plugins ADD COLUMN programs TEXT NOT NULL DEFAULT '[]';
ALTER TABLE previous ADD COLUMN programs TEXT NOT NULL DEFAULT '[]';
",
    // The audit trail becomes a hash chain; the records already there
    // are chained in the same transaction (`chain::chain_existing`).
    "
ALTER TABLE audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';
",
    // The package each build was installed from, so `lord install` can
    // tell the build `lord.lock` pins from another of the same version.
    // Builds installed before have none recorded: a lock replaces them
    // with the build it pins, once.
    "
ALTER TABLE plugins ADD COLUMN package_digest TEXT;
ALTER TABLE previous ADD COLUMN package_digest TEXT;
",
    // The key that signed each build's package, so an update signed by
    // another key (one the user trusts for other plugins) is not taken
    // unasked. Builds installed before have none recorded: their next
    // signed update records one.
    "
ALTER TABLE plugins ADD COLUMN signer TEXT;
ALTER TABLE previous ADD COLUMN signer TEXT;
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
        migration.push_str(&format!("PRAGMA user_version = {SCHEMA_VERSION};"));
        let chained = conn
            .execute_batch(&migration)
            .map_err(StoreError::from)
            .and_then(|()| {
                // Records from before the chain (version 7) are chained now,
                // oldest first, in the migration's transaction.
                if version > 0 && version < 7 {
                    crate::chain::chain_existing(conn)
                } else {
                    Ok(())
                }
            });
        if let Err(e) = chained {
            let _ = conn.execute_batch("ROLLBACK;");
            return Err(e);
        }
        conn.execute_batch("COMMIT;")?;
    } else if version > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "schema version {version}, this lord understands up to {SCHEMA_VERSION}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store from before the audit chain has its records chained, in
    /// order, by the migration: it verifies, and an edit still shows.
    #[test]
    fn version_6_records_are_chained_in_place() {
        let conn = Connection::open_in_memory().expect("sqlite");
        conn.execute_batch(SCHEMA).expect("schema");
        conn.execute_batch(
            "ALTER TABLE plugins DROP COLUMN signer;
             ALTER TABLE previous DROP COLUMN signer;
             ALTER TABLE plugins DROP COLUMN package_digest;
             ALTER TABLE previous DROP COLUMN package_digest;
             ALTER TABLE audit DROP COLUMN prev_hash;
             ALTER TABLE audit DROP COLUMN hash;
             INSERT INTO audit (at, plugin_id, action, detail) VALUES (1, 'a', 'installed', '');
             INSERT INTO audit (at, plugin_id, action, detail) VALUES (2, 'a', 'disabled', 'x');
             PRAGMA user_version = 6;",
        )
        .expect("a version 6 store");
        migrate(&conn).expect("migrate");
        let records = crate::chain::read(&conn).expect("read");
        assert_eq!(records.len(), 2);
        assert!(crate::chain::verify(&records, &[]).is_empty());
        conn.execute("UPDATE audit SET detail = 'y' WHERE seq = 2", [])
            .expect("edit");
        let records = crate::chain::read(&conn).expect("read");
        assert_eq!(
            crate::chain::verify(&records, &[]),
            vec![crate::chain::Tamper::Edited { seq: 2 }]
        );
    }

    /// A store from before package digests were recorded keeps its
    /// plugins, each with none (`lord install` with a lock replaces such a
    /// build with the pinned one, once).
    #[test]
    fn version_7_gains_no_package_digest() {
        let conn = Connection::open_in_memory().expect("sqlite");
        conn.execute_batch(SCHEMA).expect("schema");
        conn.execute_batch(
            "ALTER TABLE plugins DROP COLUMN signer;
             ALTER TABLE previous DROP COLUMN signer;
             ALTER TABLE plugins DROP COLUMN package_digest;
             ALTER TABLE previous DROP COLUMN package_digest;
             INSERT INTO plugins (id, version, dir, component, wasm_sha256, manifest, state,
                                  granted, installed_at, updated_at)
             VALUES ('old', '1.0.0', 'd', 'c', 's', 'm', 'enabled', '[]', 1, 1);
             PRAGMA user_version = 7;",
        )
        .expect("a version 7 store");
        migrate(&conn).expect("migrate");
        let (digest, version): (Option<String>, i64) = conn
            .query_row(
                "SELECT package_digest, (SELECT user_version FROM pragma_user_version)
                 FROM plugins WHERE id = 'old'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("row");
        assert_eq!((digest, version), (None, SCHEMA_VERSION));
        conn.execute_batch("SELECT package_digest FROM previous")
            .expect("previous builds gain the column too");
    }

    /// A store from before programs were recorded keeps its plugins, each
    /// with none recorded (its runs are refused until granted again).
    #[test]
    fn version_5_gains_recorded_programs_empty() {
        let conn = Connection::open_in_memory().expect("sqlite");
        conn.execute_batch(SCHEMA).expect("schema");
        conn.execute_batch(
            "ALTER TABLE plugins DROP COLUMN signer;
             ALTER TABLE previous DROP COLUMN signer;
             ALTER TABLE plugins DROP COLUMN package_digest;
             ALTER TABLE previous DROP COLUMN package_digest;
             ALTER TABLE plugins DROP COLUMN programs;
             ALTER TABLE previous DROP COLUMN programs;
             ALTER TABLE audit DROP COLUMN prev_hash;
             ALTER TABLE audit DROP COLUMN hash;
             INSERT INTO plugins (id, version, dir, component, wasm_sha256, manifest, state,
                                  granted, installed_at, updated_at)
             VALUES ('old', '1.0.0', 'd', 'c', 's', 'm', 'enabled', '[\"exec(git)\"]', 1, 1);
             PRAGMA user_version = 5;",
        )
        .expect("a version 5 store");
        migrate(&conn).expect("migrate");
        let (programs, version): (String, i64) = conn
            .query_row(
                "SELECT programs, (SELECT user_version FROM pragma_user_version)
                 FROM plugins WHERE id = 'old'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("row");
        assert_eq!((programs.as_str(), version), ("[]", SCHEMA_VERSION));
        conn.execute_batch("SELECT programs FROM previous")
            .expect("previous has the column too");
    }

    /// A store from before signers were recorded keeps its plugins, each
    /// with none (the next signed update records one).
    #[test]
    fn version_8_gains_no_signer() {
        let conn = Connection::open_in_memory().expect("sqlite");
        conn.execute_batch(SCHEMA).expect("schema");
        conn.execute_batch(
            "ALTER TABLE plugins DROP COLUMN signer;
             ALTER TABLE previous DROP COLUMN signer;
             INSERT INTO plugins (id, version, dir, component, wasm_sha256, manifest, state,
                                  granted, installed_at, updated_at)
             VALUES ('old', '1.0.0', 'd', 'c', 's', 'm', 'enabled', '[]', 1, 1);
             PRAGMA user_version = 8;",
        )
        .expect("a version 8 store");
        migrate(&conn).expect("migrate");
        let (signer, version): (Option<String>, i64) = conn
            .query_row(
                "SELECT signer, (SELECT user_version FROM pragma_user_version)
                 FROM plugins WHERE id = 'old'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("row");
        assert_eq!((signer, version), (None, SCHEMA_VERSION));
        conn.execute_batch("SELECT signer FROM previous")
            .expect("previous builds gain the column too");
    }
}
