//! Counts of command runs and failures per plugin, version and UTC day,
//! kept only while the user shares use with the registry
//! (`registry.share-usage`), for the report lord sends it. Nothing about a
//! run is kept but that it happened and whether it failed: no arguments,
//! no output, no time of day.

use rusqlite::params;

use crate::error::StoreError;
use crate::store::{Store, now};

/// One plugin version's runs and failures on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseCount {
    pub plugin: String,
    pub version: String,
    pub runs: u64,
    pub errors: u64,
}

/// Today, as days since 1970-01-01 UTC.
pub fn today() -> i64 {
    now() / 86_400
}

impl Store {
    /// Counts one run of `plugin` `version` today, and a failure if not `ok`.
    pub fn count_use(&self, plugin: &str, version: &str, ok: bool) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO use_counts (day, plugin_id, version, runs, errors) VALUES (?1, ?2, ?3, 1, ?4)
             ON CONFLICT (day, plugin_id, version)
             DO UPDATE SET runs = runs + 1, errors = errors + ?4",
            params![today(), plugin, version, i64::from(!ok)],
        )?;
        Ok(())
    }

    /// The counts of `day`, by plugin and version.
    pub fn uses_on(&self, day: i64) -> Result<Vec<UseCount>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT plugin_id, version, runs, errors FROM use_counts WHERE day = ?1
             ORDER BY plugin_id, version",
        )?;
        let rows = statement.query_map([day], |r| {
            Ok(UseCount {
                plugin: r.get(0)?,
                version: r.get(1)?,
                runs: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                errors: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Forgets the counts of days before `day` (a report carries only
    /// today's, so older ones are of no further use).
    pub fn forget_uses_before(&self, day: i64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM use_counts WHERE day < ?1", [day])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_failures_add_up_per_plugin_and_version_and_old_days_go() {
        let home = tempfile::tempdir().expect("home");
        let store = Store::open(home.path(), crate::Failpoint::new(None)).expect("store");
        store.count_use("hello", "0.1.0", true).expect("count");
        store.count_use("hello", "0.1.0", false).expect("count");
        store.count_use("hello", "0.2.0", true).expect("count");
        let counted = store.uses_on(today()).expect("read");
        assert_eq!(
            counted,
            [
                UseCount {
                    plugin: "hello".to_owned(),
                    version: "0.1.0".to_owned(),
                    runs: 2,
                    errors: 1
                },
                UseCount {
                    plugin: "hello".to_owned(),
                    version: "0.2.0".to_owned(),
                    runs: 1,
                    errors: 0
                },
            ]
        );
        store.forget_uses_before(today() + 1).expect("forget");
        assert!(store.uses_on(today()).expect("read").is_empty());
    }
}
