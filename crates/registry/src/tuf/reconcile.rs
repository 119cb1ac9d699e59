//! Bringing the index back in step with the records: what the current
//! targets metadata lists, and the signing of whatever the records hold
//! that it lacks or lists otherwise.
//!
//! A publish or yank commits its record and then signs it in; a server
//! killed between the two leaves the index short of the record. The
//! server's start-up (`resync.rs`) runs [`TufRepo::sign_in_missing`] with
//! the records as the truth.
//!
//! Invariant: the comparison is made under the signing locks, with the
//! index read after they are taken and the records read after that, so a
//! publish or yank that another server commits meanwhile is either in
//! what is read (and signed here as it now is) or signed by that server
//! after this signing: an older state is never signed over a newer one.

use std::future::Future;

use lord_registry_api::IndexEntry;

use super::TufRepo;
use crate::error::RegistryError;

impl TufRepo {
    /// Signs in every entry of `records` (read once the signing locks are
    /// held) that the index lacks or lists otherwise, in one new version;
    /// returns the names signed in (none: nothing is signed).
    pub async fn sign_in_missing<F, Fut>(&self, records: F) -> Result<Vec<String>, RegistryError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<IndexEntry>, RegistryError>>,
    {
        let _guard = self.signing.lock().await;
        let lock = self.lock(super::Want::Every).await?;
        let listed = self.listed()?;
        let missing: Vec<IndexEntry> = records()
            .await?
            .into_iter()
            .filter(|entry| listed.get(&entry.name) != Some(entry))
            .collect();
        if !missing.is_empty() {
            self.resign_locked(&missing, super::Sweep::Every).await?;
        }
        self.commit(lock).await?;
        Ok(missing.into_iter().map(|entry| entry.name).collect())
    }
}
