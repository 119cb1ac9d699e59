//! Every recorded version as the signed index should list it, written once
//! for both backends through [`Sql`]: what the start-up resync compares the
//! index with (`resync.rs`).

use lord_registry_api::TargetInfo;

use super::portable::Sql;
use super::{Db, json_map, to_u64};
use crate::error::RegistryError;

fn all(sql: &mut dyn Sql) -> Result<Vec<TargetInfo>, RegistryError> {
    let rows = sql.rows(
        "SELECT plugin_id, version, digest, size, host_api, dependencies, yanked, key_id,
                signature
         FROM versions ORDER BY plugin_id, version",
        &[],
    )?;
    Ok(rows
        .into_iter()
        .map(|row| TargetInfo {
            id: row[0].text(),
            version: row[1].text(),
            digest: row[2].text(),
            length: to_u64(row[3].int()),
            host_api: row[4].text(),
            dependencies: json_map(&row[5].text()),
            yanked: row[6].int() != 0,
            key: row[7].text(),
            // The same reading as the target of a publish or yank, so a
            // version signed then compares equal now.
            signature: serde_json::from_str::<lord_package::Signature>(&row[8].text())
                .map(|s| s.signature)
                .unwrap_or_default(),
        })
        .collect())
}

impl Db {
    /// Every recorded version, as its signed-index entry.
    pub(crate) fn index_targets(&self) -> Result<Vec<TargetInfo>, RegistryError> {
        super::community::transaction(self, all)
    }
}
