//! A pool of sessions per profile, kept for the life of the process.
//!
//! Each profile's pool keeps up to `pool-size` idle connections; a session
//! taken from it goes back when dropped, unless the caller left it in a
//! transaction or it failed, in which case it is closed. The first
//! connection is made by the caller's own thread, so a refused password or
//! an unreachable host is reported at once with the engine's message,
//! rather than after a pool's retry loop has spent the whole connect
//! timeout (r2d2's behaviour, which also reduces the message to "timed
//! out"; hence a small pool of our own).

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, OnceLock};

use lord_db_api::{
    Bounds, DbConnector, DbError, Engine, Password, PooledSql, Profile, Rows, SqlSession, Table,
    Value,
};

/// The sessions of one profile.
struct Pool {
    profile: Profile,
    password: Option<Password>,
    idle: Mutex<Vec<Box<dyn SqlSession>>>,
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
        let session = match idle {
            Some(session) => session,
            None => connect(&pool.profile, pool.password.as_ref())?,
        };
        Ok(Session {
            session: Some(session),
            pool,
            healthy: true,
        })
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

fn same(a: &Option<Password>, b: &Option<Password>) -> bool {
    a.as_ref().map(Password::expose) == b.as_ref().map(Password::expose)
}

fn poisoned() -> DbError {
    DbError::Profile("the connection pool failed in another thread; run the command again".into())
}

/// Opens a new session on `profile`.
pub fn connect(
    profile: &Profile,
    password: Option<&Password>,
) -> Result<Box<dyn SqlSession>, DbError> {
    Ok(match profile.engine {
        Engine::Sqlite => Box::new(crate::sqlite::SqliteSession::open(profile)?),
        Engine::Postgres => Box::new(crate::postgres::PgSession::open(profile, password)?),
        Engine::Mysql => Box::new(crate::mysql::MySession::open(profile, password)?),
        engine @ (Engine::Redis | Engine::MongoDb | Engine::Cassandra) => {
            return Err(DbError::Profile(format!(
                "the database profile `{}` is a {engine} database, which speaks no SQL",
                profile.name
            )));
        }
    })
}

/// A session borrowed from a pool; back to the pool when dropped.
pub struct Session {
    session: Option<Box<dyn SqlSession>>,
    pool: Arc<Pool>,
    healthy: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("profile", &self.pool.profile.name)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Closes the session instead of returning it to the pool: after an
    /// error that may have left it in a transaction or broken.
    pub fn discard(mut self) {
        self.healthy = false;
    }

    pub fn profile(&self) -> &Profile {
        &self.pool.profile
    }
}

impl Deref for Session {
    type Target = dyn SqlSession;

    fn deref(&self) -> &Self::Target {
        // The option is only emptied by drop.
        self.session.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for Session {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.session
            .as_deref_mut()
            .unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        if !self.healthy || std::thread::panicking() {
            return;
        }
        if let Ok(mut idle) = self.pool.idle.lock()
            && idle.len() < self.pool.profile.pool_size as usize
        {
            idle.push(session);
        }
    }
}

/// A pooled session is a session: what a [`DbConnector`] hands out.
impl SqlSession for Session {
    fn engine(&self) -> Engine {
        (**self).engine()
    }

    fn run(&mut self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        (**self).run(sql, params)
    }

    fn run_within(
        &mut self,
        sql: &str,
        params: &[Value],
        bounds: &Bounds,
    ) -> Result<Rows, DbError> {
        (**self).run_within(sql, params, bounds)
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

impl PooledSql for Session {
    fn discard(self: Box<Self>) {
        Session::discard(*self);
    }
}
