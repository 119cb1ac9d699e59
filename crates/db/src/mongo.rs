//! MongoDB through the official driver's blocking API (it drives a Tokio
//! runtime of its own, so callers must not be on one: the same rule as for
//! the PostgreSQL client).
//!
//! Every operation is the database command the drivers themselves send
//! (`find`, `insert`, `update`, `delete`, `aggregate`, `getMore`), run with
//! `run_command`: one path for plain calls and calls inside a transaction
//! (the driver adds the session and transaction fields to each), and the
//! same commands `lord db query` takes as JSON. Filters and documents are
//! BSON documents converted from extended JSON, never text the server
//! parses.
//!
//! The user comes from the URL, the password from `lord secret`; the
//! database is the URL's path (`test`, as mongosh picks, when it names
//! none).

use bson::{Bson, Document, doc};
use lord_db_api::{
    DbError, DocumentSession, Engine, FindOptions, Password, Profile, TlsMode, UpdateOutcome,
};
use mongodb::options::{ClientOptions, Tls, TlsOptions};
use serde_json::Value as Json;

/// MongoDB's database commands, for finding the one a JSON object names
/// when the server does not list its own (`listCommands`).
const COMMANDS: &[&str] = &[
    "abortTransaction",
    "aggregate",
    "buildInfo",
    "collMod",
    "collStats",
    "commitTransaction",
    "compact",
    "connectionStatus",
    "count",
    "create",
    "createIndexes",
    "createRole",
    "createUser",
    "currentOp",
    "dbHash",
    "dbStats",
    "delete",
    "distinct",
    "drop",
    "dropAllRolesFromDatabase",
    "dropAllUsersFromDatabase",
    "dropDatabase",
    "dropIndexes",
    "dropRole",
    "dropUser",
    "endSessions",
    "explain",
    "find",
    "findAndModify",
    "getLog",
    "getMore",
    "getParameter",
    "grantPrivilegesToRole",
    "grantRolesToRole",
    "grantRolesToUser",
    "hello",
    "hostInfo",
    "insert",
    "isMaster",
    "ismaster",
    "killCursors",
    "killOp",
    "listCollections",
    "listCommands",
    "listDatabases",
    "listIndexes",
    "ping",
    "reIndex",
    "renameCollection",
    "replSetGetStatus",
    "revokePrivilegesFromRole",
    "revokeRolesFromRole",
    "revokeRolesFromUser",
    "rolesInfo",
    "serverStatus",
    "setParameter",
    "update",
    "updateRole",
    "updateUser",
    "usersInfo",
    "validate",
    "whatsmyuri",
];

pub(crate) struct MongoSession {
    client: mongodb::sync::Client,
    /// The server's command names, once asked (`listCommands`).
    commands: Option<Vec<String>>,
    db: mongodb::sync::Database,
    /// The session of a transaction in progress.
    transaction: Option<mongodb::sync::ClientSession>,
    profile: String,
}

impl MongoSession {
    pub(crate) fn open(profile: &Profile, password: Option<&Password>) -> Result<Self, DbError> {
        let name = profile.name.to_string();
        let connect = |message: String| DbError::Connect {
            profile: name.clone(),
            engine: "mongodb",
            message,
        };
        let mut options = ClientOptions::parse(&profile.url)
            .run()
            .map_err(|e| connect(e.to_string()))?;
        if let Some(password) = password {
            match options.credential.as_mut() {
                Some(credential) if credential.username.is_some() => {
                    credential.password = Some(password.expose().to_owned());
                }
                _ => {
                    return Err(connect(format!(
                        "a password is stored for it but its URL names no user; write it \
                         like mongodb://USER@HOST/DATABASE (`lord db add {name} URL`)"
                    )));
                }
            }
        }
        options.connect_timeout = Some(profile.connect_timeout);
        // Without this the driver looks for a server for 30 s, whatever the
        // connect timeout.
        options.server_selection_timeout = Some(profile.connect_timeout);
        options.app_name = Some("lord".to_owned());
        match profile.tls_mode {
            TlsMode::Disable => options.tls = Some(Tls::Disabled),
            TlsMode::Require | TlsMode::VerifyFull => {
                options.tls = Some(Tls::Enabled(
                    TlsOptions::builder()
                        .ca_file_path(profile.ca_file.clone())
                        .build(),
                ));
            }
            // MongoDB has no in-protocol upgrade: `prefer` keeps what the
            // URL says (`tls=true`, or always for mongodb+srv://).
            TlsMode::Prefer => {
                if let (Some(Tls::Enabled(tls)), Some(ca)) = (&mut options.tls, &profile.ca_file) {
                    tls.ca_file_path = Some(ca.clone());
                }
            }
        }
        let database = options
            .default_database
            .clone()
            .unwrap_or_else(|| "test".to_owned());
        let client =
            mongodb::sync::Client::with_options(options).map_err(|e| connect(e.to_string()))?;
        let db = client.database(&database);
        // The driver connects lazily; a ping makes a refused login or an
        // unreachable host an error here, named as such.
        db.run_command(doc! {"ping": 1})
            .run()
            .map_err(|e| connect(e.to_string()))?;
        Ok(Self {
            client,
            commands: None,
            db,
            transaction: None,
            profile: profile.name.to_string(),
        })
    }

    /// The driver's handle on the profile's database, for `backup`, which
    /// reads and writes documents as raw BSON rather than through JSON.
    pub(crate) fn raw_database(&self) -> &mongodb::sync::Database {
        &self.db
    }

    fn error(&self, e: &mongodb::error::Error) -> DbError {
        DbError::Engine {
            profile: self.profile.clone(),
            engine: "mongodb",
            message: e.to_string(),
        }
    }

    fn value_error(&self, message: String) -> DbError {
        DbError::Value {
            profile: self.profile.clone(),
            message,
        }
    }

    /// Runs one command on the database, inside the transaction if one is
    /// open; a write the server refused in part (`writeErrors`) is an
    /// error.
    fn run(&mut self, command: Document) -> Result<Document, DbError> {
        let action = self.db.run_command(command);
        let reply = match self.transaction.as_mut() {
            Some(session) => action.session(session).run(),
            None => action.run(),
        }
        .map_err(|e| self.error(&e))?;
        if let Ok(errors) = reply.get_array("writeErrors")
            && let Some(Bson::Document(first)) = errors.first()
        {
            let message = first.get_str("errmsg").unwrap_or("a write was refused");
            return Err(DbError::Engine {
                profile: self.profile.clone(),
                engine: "mongodb",
                message: message.to_owned(),
            });
        }
        Ok(reply)
    }

    /// The documents of a cursor reply, following it with `getMore` until
    /// it is exhausted or `limit` documents are read.
    fn drain(&mut self, reply: Document, limit: Option<u64>) -> Result<Vec<Document>, DbError> {
        let profile = self.profile.clone();
        let shape = move || DbError::Value {
            profile: profile.clone(),
            message: "the server answered a cursor of an unknown shape".into(),
        };
        let mut cursor = reply.get_document("cursor").map_err(|_| shape())?.clone();
        let namespace = cursor.get_str("ns").map_err(|_| shape())?.to_owned();
        let collection = namespace
            .split_once('.')
            .map_or(namespace.as_str(), |(_, c)| c)
            .to_owned();
        let mut out = Vec::new();
        let mut batch_key = "firstBatch";
        loop {
            for item in cursor.get_array(batch_key).map_err(|_| shape())? {
                if let Bson::Document(d) = item {
                    out.push(d.clone());
                }
            }
            let id = cursor.get_i64("id").unwrap_or(0);
            let full = limit.is_some_and(|l| out.len() as u64 >= l);
            if id == 0 || full {
                if id != 0 {
                    let _ = self.run(doc! {"killCursors": &collection, "cursors": [id]});
                }
                break;
            }
            let more = self.run(doc! {"getMore": id, "collection": &collection})?;
            cursor = more.get_document("cursor").map_err(|_| shape())?.clone();
            batch_key = "nextBatch";
        }
        if let Some(limit) = limit {
            out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        Ok(out)
    }

    fn document(&self, what: &str, json: &Json) -> Result<Document, DbError> {
        match Bson::try_from(json.clone()) {
            Ok(Bson::Document(d)) => Ok(d),
            Ok(_) => Err(self.value_error(format!("{what} must be a JSON object"))),
            Err(e) => Err(self.value_error(format!("{what} is not extended JSON: {e}"))),
        }
    }

    /// `command` with the key naming the command first, as the server
    /// reads it. A JSON object reaches here with its keys sorted, not as
    /// written, so the name is found: the key that is one of the server's
    /// commands (its `listCommands`, or [`COMMANDS`]), preferring one whose
    /// value is a string or a number (`{"aggregate": "c", "explain":
    /// true}` is an aggregate; `{"findAndModify": "c", "update": {...}}`
    /// a findAndModify).
    fn command_first(&mut self, command: Document) -> Document {
        if self.commands.is_none() {
            let listed = self
                .db
                .run_command(doc! {"listCommands": 1})
                .run()
                .ok()
                .and_then(|r| {
                    r.get_document("commands")
                        .ok()
                        .map(|c| c.keys().cloned().collect())
                });
            self.commands = Some(listed.unwrap_or_default());
        }
        let known = |key: &str| {
            COMMANDS.contains(&key)
                || self
                    .commands
                    .as_ref()
                    .is_some_and(|c| c.iter().any(|k| k == key))
        };
        let scalar = |value: &Bson| {
            matches!(
                value,
                Bson::String(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_)
            )
        };
        let name = command
            .iter()
            .filter(|(k, _)| known(k))
            .max_by_key(|(_, v)| scalar(v))
            .map(|(k, _)| k.clone());
        let Some(name) = name else {
            return command;
        };
        let mut ordered = Document::new();
        if let Some(value) = command.get(&name) {
            ordered.insert(name.clone(), value.clone());
        }
        for (key, value) in command {
            if key != name {
                ordered.insert(key, value);
            }
        }
        ordered
    }

    fn count(&self, reply: &Document, field: &str) -> u64 {
        // A server answers counts as 32- or 64-bit integers, or doubles.
        let n = reply
            .get_i64(field)
            .ok()
            .or_else(|| reply.get_i32(field).ok().map(i64::from))
            .or_else(|| reply.get_f64(field).ok().map(|f| f as i64));
        n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
    }
}

/// A document as relaxed extended JSON.
fn json(document: Document) -> Json {
    Bson::Document(document).into_relaxed_extjson()
}

impl DocumentSession for MongoSession {
    fn engine(&self) -> Engine {
        Engine::MongoDb
    }

    fn database(&self) -> &str {
        self.db.name()
    }

    fn collections(&mut self) -> Result<Vec<String>, DbError> {
        let reply = self.run(doc! {"listCollections": 1, "nameOnly": true})?;
        let mut names: Vec<String> = self
            .drain(reply, None)?
            .into_iter()
            .filter_map(|d| d.get_str("name").ok().map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    }

    fn find(
        &mut self,
        collection: &str,
        filter: &Json,
        options: &FindOptions,
    ) -> Result<Vec<Json>, DbError> {
        let mut command = doc! {"find": collection, "filter": self.document("the filter", filter)?};
        if let Some(projection) = &options.projection {
            command.insert("projection", self.document("the projection", projection)?);
        }
        if let Some(sort) = &options.sort {
            command.insert("sort", self.document("the sort", sort)?);
        }
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        if let Some(limit) = options.limit {
            command.insert("limit", as_i64(limit));
        }
        if let Some(skip) = options.skip {
            command.insert("skip", as_i64(skip));
        }
        let reply = self.run(command)?;
        Ok(self
            .drain(reply, options.limit)?
            .into_iter()
            .map(json)
            .collect())
    }

    fn insert(&mut self, collection: &str, documents: &[Json]) -> Result<Vec<Json>, DbError> {
        let mut ids = Vec::new();
        let mut docs = Vec::new();
        for document in documents {
            let mut d = self.document("a document", document)?;
            // The id is made here, as the drivers make it, so it can be
            // returned.
            let id = d
                .entry("_id".to_owned())
                .or_insert_with(|| Bson::ObjectId(bson::oid::ObjectId::new()))
                .clone();
            ids.push(id.into_relaxed_extjson());
            docs.push(d);
        }
        if docs.is_empty() {
            return Ok(ids);
        }
        self.run(doc! {"insert": collection, "documents": docs})?;
        Ok(ids)
    }

    fn update(
        &mut self,
        collection: &str,
        filter: &Json,
        update: &Json,
        many: bool,
    ) -> Result<UpdateOutcome, DbError> {
        let u = match Bson::try_from(update.clone()) {
            Ok(u @ (Bson::Document(_) | Bson::Array(_))) => u,
            _ => {
                return Err(self.value_error(
                    "the update must be a JSON object of operators or an array of stages".into(),
                ));
            }
        };
        let q = self.document("the filter", filter)?;
        let reply = self.run(doc! {
            "update": collection,
            "updates": [{"q": q, "u": u, "multi": many}],
        })?;
        Ok(UpdateOutcome {
            matched: self.count(&reply, "n"),
            modified: self.count(&reply, "nModified"),
        })
    }

    fn delete(&mut self, collection: &str, filter: &Json, many: bool) -> Result<u64, DbError> {
        let q = self.document("the filter", filter)?;
        let limit = if many { 0 } else { 1 };
        let reply = self.run(doc! {
            "delete": collection,
            "deletes": [{"q": q, "limit": limit}],
        })?;
        Ok(self.count(&reply, "n"))
    }

    fn aggregate(&mut self, collection: &str, pipeline: &[Json]) -> Result<Vec<Json>, DbError> {
        let stages = pipeline
            .iter()
            .map(|s| self.document("a pipeline stage", s))
            .collect::<Result<Vec<_>, _>>()?;
        let reply = self.run(doc! {"aggregate": collection, "pipeline": stages, "cursor": {}})?;
        Ok(self.drain(reply, None)?.into_iter().map(json).collect())
    }

    fn command(&mut self, command: &Json) -> Result<Json, DbError> {
        let command = self.document("the command", command)?;
        let command = self.command_first(command);
        self.run(command).map(json)
    }

    fn begin(&mut self) -> Result<(), DbError> {
        if self.transaction.is_some() {
            return Err(self.value_error("a transaction is already in progress".into()));
        }
        let mut session = self
            .client
            .start_session()
            .run()
            .map_err(|e| self.error(&e))?;
        session
            .start_transaction()
            .run()
            .map_err(|e| self.error(&e))?;
        self.transaction = Some(session);
        Ok(())
    }

    fn commit(&mut self) -> Result<(), DbError> {
        let Some(mut session) = self.transaction.take() else {
            return Err(self.value_error("no transaction is in progress".into()));
        };
        session
            .commit_transaction()
            .run()
            .map_err(|e| self.error(&e))
    }

    fn rollback(&mut self) -> Result<(), DbError> {
        let Some(mut session) = self.transaction.take() else {
            return Err(self.value_error("no transaction is in progress".into()));
        };
        session
            .abort_transaction()
            .run()
            .map_err(|e| self.error(&e))
    }
}
