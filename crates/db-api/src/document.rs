//! The document capability (MongoDB): collections of JSON documents in one
//! database, with filters, projections, updates and aggregation pipelines
//! given as documents, and any database command.
//!
//! Documents, filters and replies are `serde_json::Value` in MongoDB's
//! extended JSON: read in either form (`{"$oid": ...}`,
//! `{"$date": ...}`, `{"$numberLong": ...}`), written in its relaxed form,
//! so an ObjectId, a date or a 64-bit integer survives the round trip.
//!
//! Invariant: a filter is a document, never text a server parses; a value
//! taken from a user is a value in it and cannot become an operator unless
//! the caller builds the document that way.

use serde::Serialize;
use serde_json::Value as Json;

use crate::error::DbError;
use crate::profile::Engine;

/// How [`DocumentSession::find`] shapes its answer. New options may be
/// added; build it from `default()` and set fields.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct FindOptions {
    /// The fields to return (`{"name": 1, "_id": 0}`); all when `None`.
    pub projection: Option<Json>,
    /// The order (`{"age": -1}`); the server's when `None`.
    pub sort: Option<Json>,
    /// At most this many documents; all when `None`.
    pub limit: Option<u64>,
    /// Documents to pass over first.
    pub skip: Option<u64>,
}

/// What an update did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UpdateOutcome {
    /// Documents the filter matched.
    pub matched: u64,
    /// Documents the update changed.
    pub modified: u64,
}

/// One open connection to a document database: the profile's database.
pub trait DocumentSession: Send {
    fn engine(&self) -> Engine;

    /// The database the profile names.
    fn database(&self) -> &str;

    /// The collections in the database, sorted.
    fn collections(&mut self) -> Result<Vec<String>, DbError>;

    /// The documents of `collection` matching `filter` (`{}` for all).
    fn find(
        &mut self,
        collection: &str,
        filter: &Json,
        options: &FindOptions,
    ) -> Result<Vec<Json>, DbError>;

    /// Inserts `documents` (objects): their `_id`s in order, the server's
    /// or the ones given.
    fn insert(&mut self, collection: &str, documents: &[Json]) -> Result<Vec<Json>, DbError>;

    /// Applies `update` (operators like `{"$set": {...}}`, or a pipeline
    /// as an array) to the first document matching `filter`, or to every
    /// one when `many`.
    fn update(
        &mut self,
        collection: &str,
        filter: &Json,
        update: &Json,
        many: bool,
    ) -> Result<UpdateOutcome, DbError>;

    /// Deletes the first document matching `filter`, or every one when
    /// `many`: how many it deleted.
    fn delete(&mut self, collection: &str, filter: &Json, many: bool) -> Result<u64, DbError>;

    /// Runs an aggregation pipeline (an array of stages) over
    /// `collection`: the documents it yields.
    fn aggregate(&mut self, collection: &str, pipeline: &[Json]) -> Result<Vec<Json>, DbError>;

    /// Runs one database command (`{"find": "users", "filter": {...}}`,
    /// `{"ping": 1}`) on the database: the server's reply.
    fn command(&mut self, command: &Json) -> Result<Json, DbError>;

    /// Starts a transaction: what this session does until
    /// [`DocumentSession::commit`] or [`DocumentSession::rollback`] is
    /// seen by others all at once or not at all. MongoDB needs a replica
    /// set or a sharded cluster for it; a lone server refuses.
    fn begin(&mut self) -> Result<(), DbError>;
    fn commit(&mut self) -> Result<(), DbError>;
    fn rollback(&mut self) -> Result<(), DbError>;
}
