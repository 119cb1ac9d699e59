//! The server's start: the signed index made ready, then brought back in
//! step with the records (a publish or yank whose server was killed after
//! committing its record and before signing it in is signed in now), and
//! the failpoints that let tests kill a server at exactly that moment.

use std::sync::atomic::{AtomicBool, Ordering};

use lord_registry_api::IndexEntry;

use crate::error::RegistryError;
use crate::server::{Registry, Shared, blocking};

/// Where a publish or yank may be made to stop between its commit and its
/// signing, as a killed server would.
#[derive(Debug, Default)]
pub(crate) struct Failpoint {
    /// `registry-before-sign`: abort the process there.
    abort: AtomicBool,
    /// The in-process variant: fail the next request there, once.
    fail_once: AtomicBool,
}

impl Registry {
    /// Arms a process failpoint by name (`LORD_FAILPOINT`, read by the
    /// CLI): `registry-before-sign` aborts the process in every publish or
    /// yank right after its record is committed and before it is signed
    /// in, as `kill -9` at that moment would; the signed index's own
    /// failpoints are armed too. Other names are ignored.
    #[doc(hidden)]
    pub fn arm_failpoint(&self, name: &str) {
        if name == "registry-before-sign" {
            self.failpoint.abort.store(true, Ordering::Release);
        }
        self.tuf.arm_failpoint(name);
    }

    /// The in-process failpoint: the next publish or yank commits its
    /// record and then fails without signing it in.
    #[doc(hidden)]
    pub fn fail_next_before_signing(&self) {
        self.failpoint.fail_once.store(true, Ordering::Release);
    }

    /// Called by a publish or yank between its commit and its signing.
    pub(crate) fn before_signing(&self) -> Result<(), RegistryError> {
        if self.failpoint.abort.load(Ordering::Acquire) {
            std::process::abort();
        }
        if self.failpoint.fail_once.swap(false, Ordering::AcqRel) {
            return Err(RegistryError::Internal(
                "failpoint: the server stopped between the commit and the signing".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Makes the signed index ready and signs in whatever the records hold
/// that it lacks or lists otherwise; returns the target names signed in.
/// [`crate::serve_until`] runs it before taking connections.
pub(crate) async fn start(registry: &Shared) -> Result<Vec<String>, RegistryError> {
    registry.tuf.ready().await?;
    let records = || async {
        let targets = blocking(registry, |r| r.db.index_targets()).await?;
        Ok(targets.iter().map(IndexEntry::from).collect())
    };
    registry.tuf.sign_in_missing(records).await
}
