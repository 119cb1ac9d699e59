//! Where sessions come from for a caller that links no driver: lord-host,
//! serving `lord:plugin/sql`, `kv` and `document` to plugins, takes them
//! from its embedder's pools (`lord-db`'s, kept for the life of the
//! process) through [`DbConnector`], one method per capability.

use crate::document::DocumentSession;
use crate::error::DbError;
use crate::kv::KvSession;
use crate::profile::{Capability, Password, Profile};
use crate::sql::SqlSession;

/// A SQL session borrowed from a pool: back to its pool when dropped,
/// unless discarded.
pub trait PooledSql: SqlSession {
    /// Closes the session instead of returning it to the pool: after an
    /// error that may have left it in a transaction or broken.
    fn discard(self: Box<Self>);
}

/// A key-value session borrowed from a pool; as [`PooledSql`].
pub trait PooledKv: KvSession {
    fn discard(self: Box<Self>);
}

/// A document session borrowed from a pool; as [`PooledSql`].
pub trait PooledDocument: DocumentSession {
    fn discard(self: Box<Self>);
}

/// The embedder's pools, by capability. Every method blocks for a network
/// engine (the first connection, the driver's own runtime): call it where
/// a thread may block, unless [`crate::Engine::in_process`] says the
/// engine runs in this process. An embedder without a capability's driver
/// keeps the default, which refuses saying so.
pub trait DbConnector: Send + Sync {
    /// A SQL session on `profile`, from its pool when one is idle.
    fn sql(
        &self,
        profile: &Profile,
        password: Option<Password>,
    ) -> Result<Box<dyn PooledSql>, DbError>;

    /// A key-value session on `profile` (Redis).
    fn kv(
        &self,
        profile: &Profile,
        _password: Option<Password>,
    ) -> Result<Box<dyn PooledKv>, DbError> {
        Err(missing(profile, Capability::KeyValue, "key-value"))
    }

    /// A document session on `profile` (MongoDB).
    fn document(
        &self,
        profile: &Profile,
        _password: Option<Password>,
    ) -> Result<Box<dyn PooledDocument>, DbError> {
        Err(missing(profile, Capability::Document, "document"))
    }
}

/// Why a profile gets no session of a capability from this embedder.
fn missing(profile: &Profile, capability: Capability, what: &str) -> DbError {
    let (name, engine) = (&profile.name, profile.engine);
    DbError::Profile(if engine.capabilities().contains(&capability) {
        format!(
            "the database profile `{name}` ({engine}) takes {what} commands, but this build of \
             lord has no {engine} driver"
        )
    } else {
        format!(
            "the database profile `{name}` is a {engine} database, which takes no {what} commands"
        )
    })
}
