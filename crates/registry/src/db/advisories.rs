//! Security advisories (OSV documents, kept as the text they were added
//! with) by the plugins they name, and the publish-time scan of each
//! package by its digest. Written once for both backends through [`Sql`].
//!
//! A scan is recorded by the package's digest before the version's
//! records are committed, as the blob is: a version never lacks its scan,
//! and a scan whose publish then failed names no version, so it is never
//! shown.

use super::portable::Val;
use super::{Db, now_ms};
use crate::error::RegistryError;

/// Step of both schemas that adds these tables.
pub(super) const SCHEMA: &str = "
CREATE TABLE advisories (
    id TEXT PRIMARY KEY,
    osv TEXT NOT NULL,            -- the OSV JSON as it was added
    added_ms BIGINT NOT NULL
);
CREATE TABLE advisory_plugins (
    advisory_id TEXT NOT NULL REFERENCES advisories(id),
    plugin_id TEXT NOT NULL,
    PRIMARY KEY (advisory_id, plugin_id)
);
CREATE INDEX advisory_plugins_by_plugin ON advisory_plugins (plugin_id);
CREATE TABLE package_scans (
    digest TEXT PRIMARY KEY,      -- the package's SHA-256
    report TEXT NOT NULL,         -- lord-scan's report as JSON
    scanned_ms BIGINT NOT NULL
);
";

fn texts(rows: Vec<Vec<Val>>) -> Vec<String> {
    rows.into_iter().map(|row| row[0].text()).collect()
}

impl Db {
    /// Adds the advisory `id` (or replaces the one of that id) with its
    /// OSV text, naming `plugins`; whether it replaced one.
    pub fn put_advisory(
        &self,
        id: &str,
        osv: &str,
        plugins: &[String],
    ) -> Result<bool, RegistryError> {
        let (id, osv, plugins) = (id.to_owned(), osv.to_owned(), plugins.to_vec());
        super::community::transaction(self, move |sql| {
            let replaced = sql.exec(
                "DELETE FROM advisory_plugins WHERE advisory_id = $1",
                &[id.as_str().into()],
            )? > 0;
            let replaced = sql.exec(
                "DELETE FROM advisories WHERE id = $1",
                &[id.as_str().into()],
            )? > 0
                || replaced;
            sql.exec(
                "INSERT INTO advisories (id, osv, added_ms) VALUES ($1, $2, $3)",
                &[id.as_str().into(), osv.into(), now_ms().into()],
            )?;
            for plugin in plugins {
                sql.exec(
                    "INSERT INTO advisory_plugins (advisory_id, plugin_id) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    &[id.as_str().into(), plugin.into()],
                )?;
            }
            Ok(replaced)
        })
    }

    /// The OSV texts of the advisories naming `plugin`, by id.
    pub fn advisories_for(&self, plugin: &str) -> Result<Vec<String>, RegistryError> {
        let plugin = plugin.to_owned();
        super::community::transaction(self, move |sql| {
            Ok(texts(sql.rows(
                "SELECT a.osv FROM advisories a
                 JOIN advisory_plugins p ON p.advisory_id = a.id
                 WHERE p.plugin_id = $1 ORDER BY a.id",
                &[plugin.into()],
            )?))
        })
    }

    /// The OSV text of the advisory `id`, if there is one.
    pub fn advisory(&self, id: &str) -> Result<Option<String>, RegistryError> {
        let id = id.to_owned();
        super::community::transaction(self, move |sql| {
            Ok(texts(sql.rows("SELECT osv FROM advisories WHERE id = $1", &[id.into()])?).pop())
        })
    }

    /// Records the scan of the package with `digest` (a second scan of the
    /// same bytes replaces the first).
    pub(crate) fn record_scan(&self, digest: &str, report: &str) -> Result<(), RegistryError> {
        let (digest, report) = (digest.to_owned(), report.to_owned());
        super::community::transaction(self, move |sql| {
            sql.exec(
                "INSERT INTO package_scans (digest, report, scanned_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (digest) DO UPDATE SET report = $2, scanned_ms = $3",
                &[digest.into(), report.into(), now_ms().into()],
            )?;
            Ok(())
        })
    }

    /// The scan report (JSON) of the package with `digest`, if one was
    /// recorded.
    pub fn scan_of(&self, digest: &str) -> Result<Option<String>, RegistryError> {
        let digest = digest.to_owned();
        super::community::transaction(self, move |sql| {
            Ok(texts(sql.rows(
                "SELECT report FROM package_scans WHERE digest = $1",
                &[digest.into()],
            )?)
            .pop())
        })
    }
}
