//! The host side of `lord:plugin/sql`: the [`SqlService`] linked into the
//! instances of a plugin granted `db(NAME)`. It is made per plugin with the
//! plugin's granted profiles only, each resolved (and its password read
//! from `lord secret`) when the plugin's links are made, so whatever name
//! a plugin passes, no other profile is within its reach. Sessions come
//! from the embedder's [`SqlConnector`] (the CLI's `lord-db` pools, shared
//! with `lord db`): the host links no driver.
//!
//! Every statement is run with [`SqlSession::run_within`], under the
//! sandbox's bounds and the call's deadline, its parameters bound by the
//! driver. A plugin's statements on a network engine run in a transaction
//! of the host's, committed or rolled back before the session goes back to
//! its pool, so nothing a plugin leaves open reaches the session's next
//! user; on SQLite the session itself refuses a bounded statement that
//! would attach a file, control a transaction or set a pragma. An error
//! reaches the plugin with the profile's password, should an engine ever
//! echo it, replaced.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use lord_db_api::{
    Bounds, DbError, Engine, Password, PooledSession, Profile, Rows, SqlConnector, SqlSession,
    in_transaction,
};
use lord_sandbox::{SqlCall, SqlFailure, SqlService};

/// A granted profile, ready to connect.
#[derive(Clone)]
struct Reach {
    profile: Profile,
    password: Option<Password>,
}

/// One plugin's reach: its granted profiles, each usable or the reason it
/// is not.
pub(crate) struct PluginDb {
    profiles: BTreeMap<String, Result<Reach, String>>,
    connector: Arc<dyn SqlConnector>,
}

impl PluginDb {
    /// The service for a plugin granted `profiles`, resolved now;
    /// `engine_enabled` says whether an engine's provider is enabled.
    pub(crate) fn service(
        settings: &lord_config::Config,
        secrets: &lord_state::Secrets,
        profiles: &[String],
        engine_enabled: impl Fn(Engine) -> bool,
        connector: Arc<dyn SqlConnector>,
    ) -> Arc<dyn SqlService> {
        let mut resolved = BTreeMap::new();
        for name in profiles {
            let reach = super::db::profile_and_password(settings, secrets, name)
                .map_err(|e| e.to_string())
                .and_then(|(profile, password)| {
                    let engine = profile.engine;
                    if engine_enabled(engine) {
                        Ok(Reach { profile, password })
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

    fn reach(&self, profile: &str) -> Result<Reach, SqlFailure> {
        match self.profiles.get(profile) {
            Some(Ok(reach)) => Ok(reach.clone()),
            Some(Err(reason)) => Err(SqlFailure::Refused(format!("refused: {reason}"))),
            None => Err(SqlFailure::Refused(format!(
                "refused: the database profile `{}` (needs `db({})`)",
                profile.escape_debug(),
                profile.escape_debug()
            ))),
        }
    }
}

impl SqlService for PluginDb {
    fn run(
        &self,
        _plugin: &str,
        call: SqlCall,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Rows>, SqlFailure>> + Send>> {
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
        Box::pin(async move {
            // The drivers block (and the PostgreSQL client drives a runtime
            // of its own); if the call's deadline passes, this future is
            // dropped and the statement runs on to the profile's statement
            // timeout before the session goes back to its pool.
            tokio::task::spawn_blocking(move || execute(&*connector, &reach, call))
                .await
                .unwrap_or_else(|e| Err(SqlFailure::Engine(format!("the statement failed: {e}"))))
        })
    }
}

/// Takes a session and runs the call on it; a session that failed is
/// closed rather than put back.
fn execute(
    connector: &dyn SqlConnector,
    reach: &Reach,
    call: SqlCall,
) -> Result<Vec<Rows>, SqlFailure> {
    let scrub = |e: DbError| failure(&e, reach.password.as_ref());
    let mut session = connector
        .session(&reach.profile, reach.password.clone())
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
fn discard_after(session: Box<dyn PooledSession>, error: &DbError) {
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
fn failure(error: &DbError, password: Option<&Password>) -> SqlFailure {
    let mut message = error.to_string();
    if let Some(password) = password.map(Password::expose).filter(|p| !p.is_empty()) {
        message = message.replace(password, "********");
    }
    match error {
        DbError::Profile(_) => SqlFailure::Refused(message),
        DbError::Connect { .. } => SqlFailure::Unavailable(message),
        DbError::TooLarge(_) => SqlFailure::TooLarge(message),
        DbError::Engine { .. }
        | DbError::Value { .. }
        | DbError::Migration(_)
        | DbError::Io { .. } => SqlFailure::Engine(message),
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
        assert!(matches!(told, SqlFailure::Unavailable(_)), "{told:?}");
        assert!(!told.message().contains("s3cret-pw"), "{told}");
        assert!(told.message().contains("********"), "{told}");
    }

    #[test]
    fn a_name_not_granted_reaches_nothing() {
        struct Never;
        impl SqlConnector for Never {
            fn session(
                &self,
                _: &Profile,
                _: Option<Password>,
            ) -> Result<Box<dyn PooledSession>, DbError> {
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
            SqlFailure::Refused(
                "refused: the database profile `billing` (needs `db(billing)`)".to_owned()
            )
        );
    }
}
