//! A pool of sessions per profile, kept for the life of the process.
//!
//! A session is a [`Connection`]: one of the capability traits, by the
//! profile's engine. [`Pools::session`] lends a SQL one,
//! [`Pools::kv`], [`Pools::document`] and [`Pools::wide_column`] the
//! others, and [`Pools::connection`] whichever the profile's engine has.
//!
//! Each profile's pool keeps up to `pool-size` idle connections; a session
//! taken from it goes back when dropped, unless it failed, in which case
//! it is closed. Going back, a SQL session is reset
//! ([`SqlSession::reset`]: on PostgreSQL and MySQL/MariaDB a transaction
//! left open is rolled back and settings, role, current database or
//! schema, temporary tables and prepared statements are as when it was
//! opened; a SQLite session that made temporary objects or holds a
//! transaction refuses, and is closed), so nothing its user changed (a
//! plugin's `SET search_path`, a `USE`, a temporary view) reaches the next
//! one; a session that cannot be reset is closed.
//! The first
//! connection is made by the caller's own thread, so a refused password or
//! an unreachable host is reported at once with the engine's message,
//! rather than after a pool's retry loop has spent the whole connect
//! timeout (r2d2's behaviour, which also reduces the message to "timed
//! out"; hence a small pool of our own).

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value as Json;

use lord_db_api::{
    Bounds, Canceller, Capability, DbConnector, DbError, DeclaredType, DocumentSession, Engine,
    FindOptions, KvReply, KvSession, Password, PooledDocument, PooledKv, PooledSql, Profile,
    RowSink, Rows, SqlSession, Table, UpdateOutcome, Value, WideColumnSession,
};

/// An open session on a profile, by capability.
pub enum Connection {
    Sql(Box<dyn SqlSession>),
    KeyValue(Box<dyn KvSession>),
    Document(Box<dyn DocumentSession>),
    WideColumn(Box<dyn WideColumnSession>),
}

impl Connection {
    pub fn engine(&self) -> Engine {
        match self {
            Connection::Sql(s) => s.engine(),
            Connection::KeyValue(s) => s.engine(),
            Connection::Document(s) => s.engine(),
            Connection::WideColumn(s) => s.engine(),
        }
    }

    /// Readies the connection for its next user: a SQL session is reset
    /// ([`SqlSession::reset`]). The other capabilities keep no state a
    /// caller can change: the host's `kv` and `document` interfaces offer
    /// no command that selects a database or changes a setting.
    fn reset(&mut self) -> Result<(), DbError> {
        match self {
            Connection::Sql(s) => s.reset(),
            Connection::KeyValue(_) | Connection::Document(_) | Connection::WideColumn(_) => Ok(()),
        }
    }
}

/// What a [`Lease`] can lend: a [`Connection`], or one capability's
/// session taken out of it.
pub trait Pooled: Send {
    /// The capability, as messages name it (`SQL`, `key-value`).
    const WHAT: &'static str;
    /// The capability a profile's engine must have to lend one; `None`
    /// for a [`Connection`], which any engine lends.
    const CAPABILITY: Option<Capability>;
    fn into_connection(self: Box<Self>) -> Connection;
    /// The session, or the connection back when it is of another kind.
    fn from_connection(connection: Connection) -> Result<Box<Self>, Connection>;
}

macro_rules! pooled {
    ($trait:ident, $variant:ident, $what:literal) => {
        impl Pooled for dyn $trait {
            const WHAT: &'static str = $what;
            const CAPABILITY: Option<Capability> = Some(Capability::$variant);
            fn into_connection(self: Box<Self>) -> Connection {
                Connection::$variant(self)
            }
            fn from_connection(connection: Connection) -> Result<Box<Self>, Connection> {
                match connection {
                    Connection::$variant(s) => Ok(s),
                    // Any of the other three capabilities.
                    other => Err(other),
                }
            }
        }
    };
}

pooled!(SqlSession, Sql, "SQL");
pooled!(KvSession, KeyValue, "key-value commands");
pooled!(DocumentSession, Document, "document commands");
pooled!(WideColumnSession, WideColumn, "CQL");

impl Pooled for Connection {
    const WHAT: &'static str = "a connection";
    const CAPABILITY: Option<Capability> = None;
    fn into_connection(self: Box<Self>) -> Connection {
        *self
    }
    fn from_connection(connection: Connection) -> Result<Box<Self>, Connection> {
        Ok(Box::new(connection))
    }
}

/// The sessions of one profile.
struct Pool {
    profile: Profile,
    password: Option<Password>,
    idle: Mutex<Vec<Connection>>,
}

/// Every profile's pool in this process.
#[derive(Default)]
pub struct Pools {
    pools: Mutex<HashMap<String, Arc<Pool>>>,
}

impl std::fmt::Debug for Pools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pools").finish_non_exhaustive()
    }
}

/// The process's pools.
pub fn pools() -> &'static Pools {
    static POOLS: OnceLock<Pools> = OnceLock::new();
    POOLS.get_or_init(Pools::default)
}

impl Pools {
    /// A session on `profile`, from its pool when one is idle. A profile
    /// whose settings changed since its pool was made gets a new pool.
    ///
    /// Blocking: call it from a thread that may block (on a Tokio runtime,
    /// inside `spawn_blocking`; the PostgreSQL client drives a runtime of
    /// its own).
    pub fn session(
        &self,
        profile: &Profile,
        password: Option<Password>,
    ) -> Result<Session, DbError> {
        self.lease(profile, password)
    }

    /// A key-value session on `profile` (Redis); as [`Pools::session`].
    pub fn kv(
        &self,
        profile: &Profile,
        password: Option<Password>,
    ) -> Result<Lease<dyn KvSession>, DbError> {
        self.lease(profile, password)
    }

    /// A document session on `profile` (MongoDB); as [`Pools::session`].
    pub fn document(
        &self,
        profile: &Profile,
        password: Option<Password>,
    ) -> Result<Lease<dyn DocumentSession>, DbError> {
        self.lease(profile, password)
    }

    /// A wide-column session on `profile` (Cassandra, ScyllaDB); as
    /// [`Pools::session`].
    pub fn wide_column(
        &self,
        profile: &Profile,
        password: Option<Password>,
    ) -> Result<Lease<dyn WideColumnSession>, DbError> {
        self.lease(profile, password)
    }

    /// A session of whichever capability `profile`'s engine has.
    pub fn connection(
        &self,
        profile: &Profile,
        password: Option<Password>,
    ) -> Result<Lease<Connection>, DbError> {
        self.lease(profile, password)
    }

    /// A session of the kind `S` on `profile`: what the functions above
    /// call; refused when the profile's engine has another capability.
    pub fn lease<S: Pooled + ?Sized>(
        &self,
        profile: &Profile,
        password: Option<Password>,
    ) -> Result<Lease<S>, DbError> {
        // Refused before anything is opened: a plugin asking a SQL profile
        // for key-value commands must not cost a connection.
        if let Some(capability) = S::CAPABILITY
            && !profile.engine.capabilities().contains(&capability)
        {
            return Err(wrong_kind(profile, profile.engine, S::WHAT));
        }
        let pool = {
            let mut pools = self.pools.lock().map_err(|_| poisoned())?;
            let current = pools
                .get(profile.name.as_str())
                .filter(|p| p.profile == *profile && same(&p.password, &password));
            match current {
                Some(pool) => Arc::clone(pool),
                None => {
                    let pool = Arc::new(Pool {
                        profile: profile.clone(),
                        password,
                        idle: Mutex::new(Vec::new()),
                    });
                    pools.insert(profile.name.to_string(), Arc::clone(&pool));
                    pool
                }
            }
        };
        let idle = pool.idle.lock().map_err(|_| poisoned())?.pop();
        let connection = match idle {
            Some(connection) => connection,
            None => open(&pool.profile, pool.password.as_ref())?,
        };
        match S::from_connection(connection) {
            Ok(session) => Ok(Lease {
                session: Some(session),
                pool,
                healthy: true,
            }),
            Err(connection) => {
                // The connection is sound, only of another kind: it goes
                // back for whoever asks for that kind.
                let engine = connection.engine();
                if let Ok(mut idle) = pool.idle.lock() {
                    idle.push(connection);
                }
                Err(wrong_kind(profile, engine, S::WHAT))
            }
        }
    }

    /// How many idle sessions `profile`'s pool holds (for tests and
    /// `lord db ping`).
    pub fn idle(&self, profile: &str) -> usize {
        let pools = self.pools.lock().ok();
        pools
            .and_then(|p| p.get(profile).map(Arc::clone))
            .and_then(|pool| pool.idle.lock().ok().map(|i| i.len()))
            .unwrap_or(0)
    }
}

/// The process's pools as a [`DbConnector`]: what the CLI hands lord-host
/// so that plugins' `lord:plugin/sql` calls share the pools `lord db` uses,
/// without the host linking a driver.
#[derive(Debug, Clone, Copy, Default)]
pub struct Connector;

impl DbConnector for Connector {
    fn sql(
        &self,
        profile: &Profile,
        password: Option<Password>,
    ) -> Result<Box<dyn PooledSql>, DbError> {
        Ok(Box::new(pools().session(profile, password)?))
    }

    fn kv(
        &self,
        profile: &Profile,
        password: Option<Password>,
    ) -> Result<Box<dyn PooledKv>, DbError> {
        Ok(Box::new(pools().kv(profile, password)?))
    }

    fn document(
        &self,
        profile: &Profile,
        password: Option<Password>,
    ) -> Result<Box<dyn PooledDocument>, DbError> {
        Ok(Box::new(pools().document(profile, password)?))
    }
}

/// Runs one statement on a session of `profile` from the process's pools:
/// what `lord db query` does with a statement. A session that failed is
/// closed rather than put back. Blocking unless the engine is
/// [`Engine::in_process`].
pub fn query(
    profile: &Profile,
    password: Option<Password>,
    sql: &str,
    params: &[Value],
) -> Result<Rows, DbError> {
    let mut session = pools().session(profile, password)?;
    let outcome = session.run(sql, params);
    if outcome.is_err() {
        session.discard();
    }
    outcome
}

/// Why `profile` lends no session of the kind asked for.
fn wrong_kind(profile: &Profile, engine: Engine, what: &str) -> DbError {
    DbError::Profile(format!(
        "the database profile `{}` is a {engine} database, which takes no {what}",
        profile.name
    ))
}

fn same(a: &Option<Password>, b: &Option<Password>) -> bool {
    a.as_ref().map(Password::expose) == b.as_ref().map(Password::expose)
}

fn poisoned() -> DbError {
    DbError::Profile("the connection pool failed in another thread; run the command again".into())
}

/// Opens a new SQL session on `profile`.
pub fn connect(
    profile: &Profile,
    password: Option<&Password>,
) -> Result<Box<dyn SqlSession>, DbError> {
    <dyn SqlSession>::from_connection(open(profile, password)?)
        .map_err(|c| wrong_kind(profile, c.engine(), <dyn SqlSession as Pooled>::WHAT))
}

/// Opens a new session on `profile`, of its engine's capability.
pub fn open(profile: &Profile, password: Option<&Password>) -> Result<Connection, DbError> {
    Ok(match profile.engine {
        Engine::Sqlite => Connection::Sql(Box::new(crate::sqlite::SqliteSession::open(profile)?)),
        Engine::Postgres => Connection::Sql(Box::new(crate::postgres::PgSession::open(
            profile, password,
        )?)),
        Engine::Mysql => {
            Connection::Sql(Box::new(crate::mysql::MySession::open(profile, password)?))
        }
        Engine::Redis => redis(profile, password)?,
        Engine::MongoDb => mongodb(profile, password)?,
        Engine::Cassandra => cassandra(profile, password)?,
    })
}

#[cfg(feature = "redis")]
fn redis(profile: &Profile, password: Option<&Password>) -> Result<Connection, DbError> {
    Ok(Connection::KeyValue(Box::new(
        crate::redis_kv::RedisSession::open(profile, password)?,
    )))
}

#[cfg(feature = "mongodb")]
fn mongodb(profile: &Profile, password: Option<&Password>) -> Result<Connection, DbError> {
    Ok(Connection::Document(Box::new(
        crate::mongo::MongoSession::open(profile, password)?,
    )))
}

#[cfg(feature = "cassandra")]
fn cassandra(profile: &Profile, password: Option<&Password>) -> Result<Connection, DbError> {
    Ok(Connection::WideColumn(Box::new(
        crate::cassandra::CassandraSession::open(profile, password)?,
    )))
}

#[cfg(not(feature = "redis"))]
fn redis(profile: &Profile, _: Option<&Password>) -> Result<Connection, DbError> {
    Err(left_out(profile, "redis"))
}

#[cfg(not(feature = "mongodb"))]
fn mongodb(profile: &Profile, _: Option<&Password>) -> Result<Connection, DbError> {
    Err(left_out(profile, "mongodb"))
}

#[cfg(not(feature = "cassandra"))]
fn cassandra(profile: &Profile, _: Option<&Password>) -> Result<Connection, DbError> {
    Err(left_out(profile, "cassandra"))
}

/// The error for an engine this build was made without.
#[cfg(not(all(feature = "redis", feature = "mongodb", feature = "cassandra")))]
fn left_out(profile: &Profile, feature: &str) -> DbError {
    DbError::Profile(format!(
        "the database profile `{}` needs the {} driver, which this build of lord was made \
         without (cargo feature `{feature}`)",
        profile.name, profile.engine
    ))
}

/// A SQL session borrowed from a pool.
pub type Session = Lease<dyn SqlSession>;

/// A session borrowed from a pool; back to the pool when dropped.
pub struct Lease<S: Pooled + ?Sized> {
    session: Option<Box<S>>,
    pool: Arc<Pool>,
    healthy: bool,
}

impl<S: Pooled + ?Sized> std::fmt::Debug for Lease<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("profile", &self.pool.profile.name)
            .finish_non_exhaustive()
    }
}

impl<S: Pooled + ?Sized> Lease<S> {
    /// Closes the session instead of returning it to the pool: after an
    /// error that may have left it in a transaction or broken.
    pub fn discard(mut self) {
        self.healthy = false;
    }

    pub fn profile(&self) -> &Profile {
        &self.pool.profile
    }
}

impl<S: Pooled + ?Sized> Deref for Lease<S> {
    type Target = S;

    fn deref(&self) -> &Self::Target {
        // The option is only emptied by drop.
        self.session.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl<S: Pooled + ?Sized> DerefMut for Lease<S> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.session
            .as_deref_mut()
            .unwrap_or_else(|| unreachable!())
    }
}

impl<S: Pooled + ?Sized> Drop for Lease<S> {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        if !self.healthy || std::thread::panicking() {
            return;
        }
        let room = |idle: &Vec<Connection>| idle.len() < self.pool.profile.pool_size as usize;
        // Only a session the pool will keep is reset; one that cannot be
        // is closed, rather than lent with its last user's settings.
        if !self.pool.idle.lock().is_ok_and(|idle| room(&idle)) {
            return;
        }
        let mut connection = S::into_connection(session);
        if connection.reset().is_err() {
            return;
        }
        if let Ok(mut idle) = self.pool.idle.lock()
            && room(&idle)
        {
            idle.push(connection);
        }
    }
}

/// A pooled session is a session: what a [`DbConnector`] hands out.
impl SqlSession for Lease<dyn SqlSession> {
    fn engine(&self) -> Engine {
        (**self).engine()
    }

    fn canceller(&self) -> Option<Box<dyn Canceller>> {
        (**self).canceller()
    }

    fn run(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        (**self).run(sql, params)
    }

    fn stream(
        &mut self,
        sql: &str,
        params: &[Value],
        batch: usize,
        sink: &mut RowSink<'_>,
    ) -> Result<u64, DbError> {
        (**self).stream(sql, params, batch, sink)
    }

    fn run_within(
        &mut self,
        sql: &str,
        params: &[Value],
        bounds: &Bounds,
    ) -> Result<Rows, DbError> {
        (**self).run_within(sql, params, bounds)
    }

    fn declared_types(&mut self, sql: &str) -> Result<Vec<DeclaredType>, DbError> {
        (**self).declared_types(sql)
    }

    fn reset(&mut self) -> Result<(), DbError> {
        (**self).reset()
    }

    fn run_script(&mut self, sql: &str) -> Result<(), DbError> {
        (**self).run_script(sql)
    }

    fn begin(&mut self) -> Result<(), DbError> {
        (**self).begin()
    }

    fn commit(&mut self) -> Result<(), DbError> {
        (**self).commit()
    }

    fn rollback(&mut self) -> Result<(), DbError> {
        (**self).rollback()
    }

    fn tables(&mut self) -> Result<Vec<String>, DbError> {
        (**self).tables()
    }

    fn describe(&mut self, table: &str) -> Result<Option<Table>, DbError> {
        (**self).describe(table)
    }
}

impl PooledSql for Lease<dyn SqlSession> {
    fn discard(self: Box<Self>) {
        Lease::discard(*self);
    }
}

/// A pooled key-value session, for the host's `kv` interface.
impl KvSession for Lease<dyn KvSession> {
    fn engine(&self) -> Engine {
        (**self).engine()
    }

    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, DbError> {
        (**self).get(key)
    }

    fn set(&mut self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), DbError> {
        (**self).set(key, value, ttl)
    }

    fn delete(&mut self, keys: &[&str]) -> Result<u64, DbError> {
        (**self).delete(keys)
    }

    fn exists(&mut self, key: &str) -> Result<bool, DbError> {
        (**self).exists(key)
    }

    fn scan(&mut self, pattern: &str, limit: usize) -> Result<Vec<String>, DbError> {
        (**self).scan(pattern, limit)
    }

    fn incr(&mut self, key: &str, by: i64) -> Result<i64, DbError> {
        (**self).incr(key, by)
    }

    fn expire(&mut self, key: &str, ttl: Duration) -> Result<bool, DbError> {
        (**self).expire(key, ttl)
    }

    fn ttl(&mut self, key: &str) -> Result<Option<Duration>, DbError> {
        (**self).ttl(key)
    }

    fn command(&mut self, args: &[Vec<u8>]) -> Result<KvReply, DbError> {
        (**self).command(args)
    }

    fn transaction(&mut self, commands: &[Vec<Vec<u8>>]) -> Result<Vec<KvReply>, DbError> {
        (**self).transaction(commands)
    }
}

impl PooledKv for Lease<dyn KvSession> {
    fn discard(self: Box<Self>) {
        Lease::discard(*self);
    }
}

/// A pooled document session, for the host's `document` interface.
impl DocumentSession for Lease<dyn DocumentSession> {
    fn engine(&self) -> Engine {
        (**self).engine()
    }

    fn database(&self) -> &str {
        (**self).database()
    }

    fn collections(&mut self) -> Result<Vec<String>, DbError> {
        (**self).collections()
    }

    fn find(
        &mut self,
        collection: &str,
        filter: &Json,
        options: &FindOptions,
    ) -> Result<Vec<Json>, DbError> {
        (**self).find(collection, filter, options)
    }

    fn insert(&mut self, collection: &str, documents: &[Json]) -> Result<Vec<Json>, DbError> {
        (**self).insert(collection, documents)
    }

    fn update(
        &mut self,
        collection: &str,
        filter: &Json,
        update: &Json,
        many: bool,
    ) -> Result<UpdateOutcome, DbError> {
        (**self).update(collection, filter, update, many)
    }

    fn delete(&mut self, collection: &str, filter: &Json, many: bool) -> Result<u64, DbError> {
        (**self).delete(collection, filter, many)
    }

    fn aggregate(&mut self, collection: &str, pipeline: &[Json]) -> Result<Vec<Json>, DbError> {
        (**self).aggregate(collection, pipeline)
    }

    fn command(&mut self, command: &Json) -> Result<Json, DbError> {
        (**self).command(command)
    }

    fn begin(&mut self) -> Result<(), DbError> {
        (**self).begin()
    }

    fn commit(&mut self) -> Result<(), DbError> {
        (**self).commit()
    }

    fn rollback(&mut self) -> Result<(), DbError> {
        (**self).rollback()
    }
}

impl PooledDocument for Lease<dyn DocumentSession> {
    fn discard(self: Box<Self>) {
        Lease::discard(*self);
    }
}
