//! The host side of `lord:plugin/sql`: the [`DbService`] linked into the
//! instances of a plugin granted `db(NAME)`. It is made per plugin with the
//! plugin's granted profiles only, each resolved (and its password read
//! from `lord secret`) when the plugin's links are made, so whatever name
//! a plugin passes, no other profile is within its reach. Sessions come
//! from the embedder's [`DbConnector`] (the CLI's `lord-db` pools, shared
//! with `lord db`): the host links no driver.
//!
//! Every statement is run with [`SqlSession::run_within`], under the
//! sandbox's bounds and the call's deadline, its parameters bound by the
//! driver. A plugin's statements on a network engine run in a transaction
//! of the host's, committed or rolled back before the session goes back to
//! its pool, which resets it (settings, role, current database, temporary
//! tables), so nothing a plugin leaves open or sets reaches the session's
//! next user; on SQLite the session itself refuses a bounded statement that
//! would attach a file, control a transaction or set a pragma. An error
//! reaches the plugin with the profile's password, should an engine ever
//! echo it, replaced.

use std::collections::BTreeMap;
use std::sync::Arc;

use lord_db_api::{
    Bounds, DbConnector, DbError, DocumentSession, Engine, KvSession, Password, PooledSql, Profile,
    Rows, SqlSession, in_transaction,
};
use lord_sandbox::{
    DbFailure, DbFuture, DbService, DocumentAnswer, DocumentCall, DocumentOp, KvAnswer, KvCall,
    KvOp, SqlCall,
};

/// A granted profile, ready to connect (shared by the calls, not copied).
struct Reach {
    profile: Arc<Profile>,
    password: Option<Password>,
}

/// One plugin's reach: its granted profiles, each usable or the reason it
/// is not.
pub(crate) struct PluginDb {
    profiles: BTreeMap<String, Result<Arc<Reach>, String>>,
    connector: Arc<dyn DbConnector>,
}

impl PluginDb {
    /// The service for a plugin granted `profiles`, resolved now;
    /// `engine_enabled` says whether an engine's provider is enabled.
    pub(crate) fn service(
        settings: &crate::settings::Settings,
        secrets: &lord_state::Secrets,
        profiles: &[String],
        engine_enabled: impl Fn(Engine) -> bool,
        connector: Arc<dyn DbConnector>,
    ) -> Arc<dyn DbService> {
        let mut resolved = BTreeMap::new();
        for name in profiles {
            let reach = super::db::profile_and_password(settings, secrets, name)
                .map_err(|e| e.to_string())
                .and_then(|(profile, password)| {
                    let engine = profile.engine;
                    if engine_enabled(engine) {
                        Ok(Arc::new(Reach { profile, password }))
                    } else {
                        Err(format!(
                            "the database profile `{name}` uses `{engine}`, which is disabled"
                        ))
                    }
                });
            resolved.insert(name.clone(), reach);
        }
        Arc::new(Self {
            profiles: resolved,
            connector,
        })
    }

    fn reach(&self, profile: &str) -> Result<Arc<Reach>, DbFailure> {
        match self.profiles.get(profile) {
            Some(Ok(reach)) => Ok(Arc::clone(reach)),
            Some(Err(reason)) => Err(DbFailure::Refused(format!("refused: {reason}"))),
            None => Err(DbFailure::Refused(format!(
                "refused: the database profile `{}` (needs `db({})`)",
                profile.escape_debug(),
                profile.escape_debug()
            ))),
        }
    }
}

/// Runs `work` on a thread that may block: the network drivers block (and
/// the PostgreSQL and MongoDB clients drive runtimes of their own). If the
/// call's deadline passes, this future is dropped; a SQL statement is ended
/// by the server at that deadline too (`run_within`), other work runs on to
/// the profile's own timeouts, before its session goes back to its pool.
fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DbFailure> + Send + 'static,
) -> DbFuture<T> {
    Box::pin(async move {
        tokio::task::spawn_blocking(work)
            .await
            .unwrap_or_else(|e| Err(DbFailure::Engine(format!("the call failed: {e}"))))
    })
}

impl DbService for PluginDb {
    fn sql(&self, _plugin: &str, call: SqlCall) -> DbFuture<Vec<Rows>> {
        let reach = match self.reach(&call.profile) {
            Ok(reach) => reach,
            Err(refused) => return Box::pin(std::future::ready(Err(refused))),
        };
        let connector = Arc::clone(&self.connector);
        if reach.profile.engine.in_process() {
            // SQLite: no network and no runtime of the driver's own, and
            // the session ends a statement at the deadline itself, so it
            // runs here rather than paying a thread hand-off per call.
            return Box::pin(std::future::ready(execute(&*connector, &reach, call)));
        }
        blocking(move || execute(&*connector, &reach, call))
    }

    fn kv(&self, _plugin: &str, call: KvCall) -> DbFuture<KvAnswer> {
        let reach = match self.reach(&call.profile) {
            Ok(reach) => reach,
            Err(refused) => return Box::pin(std::future::ready(Err(refused))),
        };
        let connector = Arc::clone(&self.connector);
        blocking(move || {
            let scrub = |e: DbError| failure(&e, reach.password.as_ref());
            let mut session = connector
                .kv(&reach.profile, reach.password.clone())
                .map_err(scrub)?;
            match kv(&mut *session, call) {
                Ok(answer) => Ok(answer),
                Err(error) => {
                    session.discard();
                    Err(scrub(error))
                }
            }
        })
    }

    fn document(&self, _plugin: &str, call: DocumentCall) -> DbFuture<DocumentAnswer> {
        let reach = match self.reach(&call.profile) {
            Ok(reach) => reach,
            Err(refused) => return Box::pin(std::future::ready(Err(refused))),
        };
        let connector = Arc::clone(&self.connector);
        blocking(move || {
            let scrub = |e: DbError| failure(&e, reach.password.as_ref());
            let mut session = connector
                .document(&reach.profile, reach.password.clone())
                .map_err(scrub)?;
            match document(&mut *session, call) {
                Ok(answer) => Ok(answer),
                Err(error) => {
                    session.discard();
                    Err(scrub(error))
                }
            }
        })
    }
}

/// One key-value operation; a `get` answer over the bounds is refused.
fn kv(session: &mut dyn KvSession, call: KvCall) -> Result<KvAnswer, DbError> {
    Ok(match call.op {
        KvOp::Get(key) => {
            let value = session.get(&key)?;
            if value.as_ref().is_some_and(|v| v.len() > call.max_bytes) {
                return Err(DbError::TooLarge(format!(
                    "the value at `{}` holds more than {} bytes",
                    key.escape_debug(),
                    call.max_bytes
                )));
            }
            KvAnswer::Value(value)
        }
        KvOp::Set { key, value, ttl } => {
            session.set(&key, &value, ttl)?;
            KvAnswer::Done
        }
        KvOp::Delete(keys) => {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            KvAnswer::Count(session.delete(&keys)?)
        }
        KvOp::Exists(key) => KvAnswer::Flag(session.exists(&key)?),
        KvOp::Incr { key, by } => KvAnswer::Number(session.incr(&key, by)?),
        KvOp::Expire { key, ttl } => KvAnswer::Flag(session.expire(&key, ttl)?),
        KvOp::Ttl(key) => KvAnswer::Left(session.ttl(&key)?),
        KvOp::Scan { pattern, limit } => KvAnswer::Keys(session.scan(&pattern, limit)?),
    })
}

/// One document operation; a `find` asks for one document more than the
/// bounds allow, so an answer over them is known without reading it all.
fn document(
    session: &mut dyn DocumentSession,
    call: DocumentCall,
) -> Result<DocumentAnswer, DbError> {
    let bounds = call.bounds;
    Ok(match call.op {
        DocumentOp::Find {
            collection,
            filter,
            mut options,
        } => {
            let most = u64::try_from(bounds.max_rows).unwrap_or(u64::MAX);
            options.limit = Some(options.limit.map_or(most + 1, |l| l.min(most + 1)));
            let documents = session.find(&collection, &filter, &options)?;
            let bytes = documents
                .iter()
                .fold(0usize, |sum, d| sum.saturating_add(d.to_string().len()));
            if documents.len() > bounds.max_rows || bytes > bounds.max_bytes {
                return Err(DbError::TooLarge(format!(
                    "the answer holds more than {} documents or {} bytes: ask for fewer (a \
                     narrower filter, a limit, a projection)",
                    bounds.max_rows, bounds.max_bytes
                )));
            }
            DocumentAnswer::Documents(documents)
        }
        DocumentOp::Insert {
            collection,
            documents,
        } => DocumentAnswer::Ids(session.insert(&collection, &documents)?),
        DocumentOp::Update {
            collection,
            filter,
            update,
            many,
        } => DocumentAnswer::Updated(session.update(&collection, &filter, &update, many)?),
        DocumentOp::Delete {
            collection,
            filter,
            many,
        } => DocumentAnswer::Deleted(session.delete(&collection, &filter, many)?),
    })
}

/// Takes a session and runs the call on it; a session that failed is
/// closed rather than put back.
fn execute(
    connector: &dyn DbConnector,
    reach: &Reach,
    call: SqlCall,
) -> Result<Vec<Rows>, DbFailure> {
    let scrub = |e: DbError| failure(&e, reach.password.as_ref());
    let mut session = connector
        .sql(&reach.profile, reach.password.clone())
        .map_err(scrub)?;
    // On a network engine every call is a transaction of the host's: a
    // plugin's own BEGIN or COMMIT cannot leave one open for the next user.
    let whole = call.transaction || !reach.profile.engine.in_process();
    let outcome = if whole {
        in_transaction(&mut *session, |s| run_all(s, &call))
    } else {
        run_all(&mut *session, &call)
    };
    match outcome {
        Ok(rows) => Ok(rows),
        Err(error) => {
            discard_after(session, &error);
            Err(scrub(error))
        }
    }
}

/// After an error: a SQLite session whose statement the engine refused is
/// still sound (a bounded statement can open no transaction), and goes
/// back; any other is closed.
fn discard_after(session: Box<dyn PooledSql>, error: &DbError) {
    let sound = session.engine().in_process()
        && matches!(
            error,
            DbError::Engine { .. } | DbError::TooLarge(_) | DbError::Value { .. }
        );
    if !sound {
        session.discard();
    }
}

/// Runs each statement within what is left of the call's bounds.
fn run_all(session: &mut dyn SqlSession, call: &SqlCall) -> Result<Vec<Rows>, DbError> {
    let mut left = call.bounds;
    let mut out = Vec::with_capacity(call.statements.len());
    for (sql, params) in &call.statements {
        let rows = session.run_within(sql, params, &left)?;
        left = Bounds {
            max_rows: left.max_rows.saturating_sub(rows.rows.len()),
            max_bytes: left.max_bytes.saturating_sub(rows.weight()),
            deadline: left.deadline,
        };
        out.push(rows);
    }
    Ok(out)
}

/// What the plugin is told: the kind it can act on, and the message with
/// the password, should it ever appear, replaced.
fn failure(error: &DbError, password: Option<&Password>) -> DbFailure {
    let mut message = error.to_string();
    if let Some(password) = password.map(Password::expose).filter(|p| !p.is_empty()) {
        message = message.replace(password, "********");
    }
    match error {
        DbError::Profile(_) => DbFailure::Refused(message),
        DbError::Connect { .. } => DbFailure::Unavailable(message),
        DbError::TooLarge(_) => DbFailure::TooLarge(message),
        DbError::Engine { .. }
        | DbError::Value { .. }
        | DbError::Migration(_)
        | DbError::Io { .. } => DbFailure::Engine(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_an_engine_echoes_never_reaches_the_plugin() {
        let password = Password::new("s3cret-pw".to_owned());
        let error = DbError::Connect {
            profile: "analytics".to_owned(),
            engine: "postgres",
            message: "password authentication failed for \"s3cret-pw\"".to_owned(),
        };
        let told = failure(&error, Some(&password));
        assert!(matches!(told, DbFailure::Unavailable(_)), "{told:?}");
        assert!(!told.message().contains("s3cret-pw"), "{told}");
        assert!(told.message().contains("********"), "{told}");
    }

    #[test]
    fn a_name_not_granted_reaches_nothing() {
        struct Never;
        impl DbConnector for Never {
            fn sql(&self, _: &Profile, _: Option<Password>) -> Result<Box<dyn PooledSql>, DbError> {
                panic!("no session may be asked for")
            }
        }
        let db = PluginDb {
            profiles: BTreeMap::new(),
            connector: Arc::new(Never),
        };
        let refused = db.reach("billing").err().expect("refused");
        assert_eq!(
            refused,
            DbFailure::Refused(
                "refused: the database profile `billing` (needs `db(billing)`)".to_owned()
            )
        );
    }

    /// A key-value store and a document store in memory, as an embedder's
    /// connector would lend them, failing with the password in the message
    /// when told to.
    #[derive(Default)]
    struct Memory {
        kv: std::sync::Mutex<BTreeMap<String, Vec<u8>>>,
    }

    struct MemoryKv(Arc<Memory>);

    impl KvSession for MemoryKv {
        fn engine(&self) -> Engine {
            Engine::Redis
        }
        fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, DbError> {
            if key == "fail" {
                return Err(DbError::Engine {
                    profile: "cache".into(),
                    engine: "redis",
                    message: "WRONGPASS pw-canary-1".into(),
                });
            }
            Ok(self.0.kv.lock().unwrap().get(key).cloned())
        }
        fn set(
            &mut self,
            key: &str,
            value: &[u8],
            _: Option<std::time::Duration>,
        ) -> Result<(), DbError> {
            self.0
                .kv
                .lock()
                .unwrap()
                .insert(key.to_owned(), value.to_vec());
            Ok(())
        }
        fn delete(&mut self, keys: &[&str]) -> Result<u64, DbError> {
            let mut kv = self.0.kv.lock().unwrap();
            Ok(keys.iter().filter(|k| kv.remove(**k).is_some()).count() as u64)
        }
        fn exists(&mut self, key: &str) -> Result<bool, DbError> {
            Ok(self.0.kv.lock().unwrap().contains_key(key))
        }
        fn scan(&mut self, _: &str, limit: usize) -> Result<Vec<String>, DbError> {
            Ok(self
                .0
                .kv
                .lock()
                .unwrap()
                .keys()
                .take(limit)
                .cloned()
                .collect())
        }
        fn incr(&mut self, _: &str, by: i64) -> Result<i64, DbError> {
            Ok(by)
        }
        fn expire(&mut self, _: &str, _: std::time::Duration) -> Result<bool, DbError> {
            Ok(true)
        }
        fn ttl(&mut self, _: &str) -> Result<Option<std::time::Duration>, DbError> {
            Ok(None)
        }
        fn command(&mut self, _: &[Vec<u8>]) -> Result<lord_db_api::KvReply, DbError> {
            panic!("no raw command reaches a store from a plugin")
        }
        fn transaction(
            &mut self,
            _: &[Vec<Vec<u8>>],
        ) -> Result<Vec<lord_db_api::KvReply>, DbError> {
            panic!("no raw command reaches a store from a plugin")
        }
    }

    impl lord_db_api::PooledKv for MemoryKv {
        fn discard(self: Box<Self>) {}
    }

    /// Answers every find with `limit` documents (or 20,000 without one).
    struct ManyDocuments;

    impl DocumentSession for ManyDocuments {
        fn engine(&self) -> Engine {
            Engine::MongoDb
        }
        fn database(&self) -> &str {
            "shop"
        }
        fn collections(&mut self) -> Result<Vec<String>, DbError> {
            Ok(Vec::new())
        }
        fn find(
            &mut self,
            _: &str,
            _: &serde_json::Value,
            options: &lord_db_api::FindOptions,
        ) -> Result<Vec<serde_json::Value>, DbError> {
            let n = options.limit.unwrap_or(20_000);
            Ok((0..n).map(|i| serde_json::json!({ "_id": i })).collect())
        }
        fn insert(
            &mut self,
            _: &str,
            d: &[serde_json::Value],
        ) -> Result<Vec<serde_json::Value>, DbError> {
            Ok(d.iter().map(|_| serde_json::json!(1)).collect())
        }
        fn update(
            &mut self,
            _: &str,
            _: &serde_json::Value,
            _: &serde_json::Value,
            _: bool,
        ) -> Result<lord_db_api::UpdateOutcome, DbError> {
            Ok(lord_db_api::UpdateOutcome::default())
        }
        fn delete(&mut self, _: &str, _: &serde_json::Value, _: bool) -> Result<u64, DbError> {
            Ok(0)
        }
        fn aggregate(
            &mut self,
            _: &str,
            _: &[serde_json::Value],
        ) -> Result<Vec<serde_json::Value>, DbError> {
            Ok(Vec::new())
        }
        fn command(&mut self, _: &serde_json::Value) -> Result<serde_json::Value, DbError> {
            panic!("no raw command reaches a store from a plugin")
        }
        fn begin(&mut self) -> Result<(), DbError> {
            Ok(())
        }
        fn commit(&mut self) -> Result<(), DbError> {
            Ok(())
        }
        fn rollback(&mut self) -> Result<(), DbError> {
            Ok(())
        }
    }

    impl lord_db_api::PooledDocument for ManyDocuments {
        fn discard(self: Box<Self>) {}
    }

    struct Stores(Arc<Memory>);

    impl DbConnector for Stores {
        fn sql(&self, _: &Profile, _: Option<Password>) -> Result<Box<dyn PooledSql>, DbError> {
            panic!("no SQL here")
        }
        fn kv(
            &self,
            _: &Profile,
            _: Option<Password>,
        ) -> Result<Box<dyn lord_db_api::PooledKv>, DbError> {
            Ok(Box::new(MemoryKv(Arc::clone(&self.0))))
        }
        fn document(
            &self,
            _: &Profile,
            _: Option<Password>,
        ) -> Result<Box<dyn lord_db_api::PooledDocument>, DbError> {
            Ok(Box::new(ManyDocuments))
        }
    }

    fn profile(name: &str, url: &str) -> Profile {
        Profile::from_settings(name, |f| (f == "url").then(|| serde_json::json!(url))).unwrap()
    }

    fn service() -> PluginDb {
        PluginDb {
            profiles: BTreeMap::from([
                (
                    "cache".to_owned(),
                    Ok(Arc::new(Reach {
                        profile: profile("cache", "redis://127.0.0.1:6379").into(),
                        password: Some(Password::new("pw-canary-1".to_owned())),
                    })),
                ),
                (
                    "shop".to_owned(),
                    Ok(Arc::new(Reach {
                        profile: profile("shop", "mongodb://127.0.0.1:27017/shop").into(),
                        password: None,
                    })),
                ),
            ]),
            connector: Arc::new(Stores(Arc::new(Memory::default()))),
        }
    }

    fn kv_call(profile: &str, op: KvOp) -> KvCall {
        KvCall {
            profile: profile.to_owned(),
            op,
            max_bytes: 8,
            deadline: std::time::Instant::now() + std::time::Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn kv_reaches_the_granted_store_only_and_never_shows_its_password() {
        let db = service();
        let set = KvOp::Set {
            key: "k".into(),
            value: b"v".to_vec(),
            ttl: None,
        };
        assert_eq!(db.kv("p", kv_call("cache", set)).await, Ok(KvAnswer::Done));
        assert_eq!(
            db.kv("p", kv_call("cache", KvOp::Get("k".into()))).await,
            Ok(KvAnswer::Value(Some(b"v".to_vec())))
        );
        let other = db.kv("p", kv_call("sessions", KvOp::Get("k".into()))).await;
        assert!(matches!(other, Err(DbFailure::Refused(_))), "{other:?}");
        let failed = db
            .kv("p", kv_call("cache", KvOp::Get("fail".into())))
            .await
            .expect_err("fails");
        assert!(!failed.message().contains("pw-canary-1"), "{failed}");
        let big = KvOp::Set {
            key: "big".into(),
            value: vec![0; 9],
            ttl: None,
        };
        db.kv("p", kv_call("cache", big)).await.expect("set");
        let over = db.kv("p", kv_call("cache", KvOp::Get("big".into()))).await;
        assert!(matches!(over, Err(DbFailure::TooLarge(_))), "{over:?}");
    }

    #[tokio::test]
    async fn a_find_over_its_bounds_is_too_large_and_asks_for_one_more_at_most() {
        let db = service();
        let find = |limit| {
            let mut options = lord_db_api::FindOptions::default();
            options.limit = limit;
            DocumentCall {
                profile: "shop".to_owned(),
                op: DocumentOp::Find {
                    collection: "orders".into(),
                    filter: serde_json::json!({}),
                    options,
                },
                bounds: Bounds {
                    max_rows: 100,
                    max_bytes: 1 << 20,
                    deadline: None,
                },
            }
        };
        let over = db.document("p", find(None)).await;
        assert!(matches!(over, Err(DbFailure::TooLarge(_))), "{over:?}");
        let fits = db.document("p", find(Some(100))).await.expect("100 fit");
        assert!(matches!(fits, DocumentAnswer::Documents(d) if d.len() == 100));
        let refused = db
            .document(
                "p",
                DocumentCall {
                    profile: "cache2".into(),
                    ..find(None)
                },
            )
            .await;
        assert!(matches!(refused, Err(DbFailure::Refused(_))), "{refused:?}");
    }
}
