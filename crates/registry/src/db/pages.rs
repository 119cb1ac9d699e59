//! What the web pages read beyond the JSON API, on both backends side by
//! side so their answers cannot drift: a version's README and manifest
//! text, a plugin's downloads per day, and the distinct `host-api`
//! requirements the host API filter matches against.
//!
//! Downloads per day are counted on the download itself
//! (`count_download`), one row per plugin and UTC day, so the chart reads
//! at most a few hundred small rows.

use rusqlite::{OptionalExtension as _, params};

use super::pg::Postgres;
use super::sqlite::Sqlite;
use super::{Backend, Db, now_ms};
use crate::error::RegistryError;

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01, UTC.
pub(crate) fn today() -> i64 {
    now_ms() / DAY_MS
}

/// One version's manifest text, as published.
#[derive(Debug, Clone)]
pub struct VersionText {
    pub version: String,
    pub manifest: String,
}

impl Db {
    /// The README published with `id` `version` (empty when it had none).
    pub fn readme(&self, id: &str, version: &str) -> Result<Option<String>, RegistryError> {
        match &self.backend {
            Backend::Sqlite(db) => db.readme(id, version),
            Backend::Postgres(db) => db.readme(id, version),
        }
    }

    /// The manifest text of every version of `id`, in no order.
    pub fn manifests(&self, id: &str) -> Result<Vec<VersionText>, RegistryError> {
        match &self.backend {
            Backend::Sqlite(db) => db.manifests(id),
            Backend::Postgres(db) => db.manifests(id),
        }
    }

    /// Adds `count` downloads of `id` on `day` (the demo's history; real
    /// downloads count themselves as they happen).
    pub fn add_downloads(&self, id: &str, day: i64, count: u64) -> Result<(), RegistryError> {
        let id = id.to_owned();
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        super::community::transaction(self, move |sql| {
            sql.exec(
                "INSERT INTO downloads_daily (plugin_id, day, count) VALUES ($1, $2, $3)
                 ON CONFLICT (plugin_id, day) DO UPDATE SET count = downloads_daily.count + $3",
                &[id.as_str().into(), day.into(), count.into()],
            )?;
            sql.exec(
                "UPDATE plugins SET downloads = downloads + $2 WHERE id = $1",
                &[id.into(), count.into()],
            )?;
            Ok(())
        })
    }

    /// Downloads of `id` per day from `since` (a day number, see
    /// [`today`]) on, as `(day, count)`, oldest first; days without a
    /// download are absent.
    pub fn downloads_by_day(&self, id: &str, since: i64) -> Result<Vec<(i64, u64)>, RegistryError> {
        match &self.backend {
            Backend::Sqlite(db) => db.downloads_by_day(id, since),
            Backend::Postgres(db) => db.downloads_by_day(id, since),
        }
    }
}

impl Sqlite {
    /// The distinct `host-api` requirements of plugin rows (few: authors
    /// copy the template's).
    pub(super) fn host_api_requirements(
        conn: &rusqlite::Connection,
    ) -> Result<Vec<String>, RegistryError> {
        let mut stmt = conn.prepare("SELECT DISTINCT host_api FROM plugins")?;
        let rows = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(rows)
    }

    fn readme(&self, id: &str, version: &str) -> Result<Option<String>, RegistryError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT readme FROM versions WHERE plugin_id = ?1 AND version = ?2",
                [id, version],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn manifests(&self, id: &str) -> Result<Vec<VersionText>, RegistryError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT version, manifest FROM versions WHERE plugin_id = ?1")?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(VersionText {
                    version: r.get(0)?,
                    manifest: r.get(1)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn downloads_by_day(&self, id: &str, since: i64) -> Result<Vec<(i64, u64)>, RegistryError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT day, count FROM downloads_daily WHERE plugin_id = ?1 AND day >= ?2 ORDER BY day",
        )?;
        let rows = stmt
            .query_map(params![id, since], |r| {
                Ok((r.get::<_, i64>(0)?, super::to_u64(r.get(1)?)))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

/// [`Sqlite::host_api_requirements`] on a PostgreSQL connection.
pub(super) fn host_api_requirements_pg(
    c: &mut postgres::Client,
) -> Result<Vec<String>, RegistryError> {
    Ok(c.query("SELECT DISTINCT host_api FROM plugins", &[])?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<Vec<String>, _>>()?)
}

impl Postgres {
    fn readme(&self, id: &str, version: &str) -> Result<Option<String>, RegistryError> {
        let (id, version) = (id.to_owned(), version.to_owned());
        self.pool.run(move |c| {
            c.query_opt(
                "SELECT readme FROM versions WHERE plugin_id = $1 AND version = $2",
                &[&id, &version],
            )?
            .map(|r| Ok(r.try_get(0)?))
            .transpose()
        })
    }

    fn manifests(&self, id: &str) -> Result<Vec<VersionText>, RegistryError> {
        let id = id.to_owned();
        self.pool.run(move |c| {
            c.query(
                "SELECT version, manifest FROM versions WHERE plugin_id = $1",
                &[&id],
            )?
            .iter()
            .map(|r| {
                Ok(VersionText {
                    version: r.try_get(0)?,
                    manifest: r.try_get(1)?,
                })
            })
            .collect()
        })
    }

    fn downloads_by_day(&self, id: &str, since: i64) -> Result<Vec<(i64, u64)>, RegistryError> {
        let id = id.to_owned();
        self.pool.run(move |c| {
            c.query(
                "SELECT day, count FROM downloads_daily WHERE plugin_id = $1 AND day >= $2
                 ORDER BY day",
                &[&id, &since],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, super::to_u64(r.try_get(1)?))))
            .collect()
        })
    }
}
