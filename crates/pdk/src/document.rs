//! Document databases (MongoDB): `db(PROFILE)` in the manifest, then
//! [`find`], [`insert`], [`update`] and [`delete`] over JSON documents
//! (MongoDB's extended JSON). A filter is a document the plugin builds,
//! never text the server parses: put user input in it as a value.
//!
//! ```no_run
//! use lord_pdk::document::{self, FindOptions};
//! use lord_pdk::serde_json::json;
//!
//! document::insert("shop", "orders", &[json!({"item": "tea", "qty": 2})])?;
//! let big = document::find("shop", "orders", &json!({"qty": {"$gt": 1}}), &FindOptions::default())?;
//! document::update("shop", "orders", &json!({"item": "tea"}), &json!({"$inc": {"qty": 1}}), false)?;
//! # Ok::<(), lord_pdk::document::DbError>(())
//! ```
//!
//! An answer holds at most 10,000 documents and 4 MiB, or the call fails
//! with [`DbError::TooLarge`].

use serde_json::Value;

use crate::bindings::lord::plugin::document as host;

pub use host::{DbError, UpdateOutcome};

/// How [`find`] shapes its answer; `None` leaves each to the server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindOptions {
    /// The fields to return (`{"name": 1}`).
    pub projection: Option<Value>,
    /// The order (`{"age": -1}`).
    pub sort: Option<Value>,
    pub limit: Option<u64>,
    pub skip: Option<u64>,
}

fn parse(texts: Vec<String>) -> Result<Vec<Value>, DbError> {
    texts
        .iter()
        .map(|t| {
            serde_json::from_str(t).map_err(|e| {
                DbError::Engine(format!("the host sent JSON this plugin cannot read: {e}"))
            })
        })
        .collect()
}

/// The documents of `collection` matching `filter` (`json!({})` for all).
pub fn find(
    profile: &str,
    collection: &str,
    filter: &Value,
    options: &FindOptions,
) -> Result<Vec<Value>, DbError> {
    let options = host::FindOptions {
        projection: options.projection.as_ref().map(Value::to_string),
        sort: options.sort.as_ref().map(Value::to_string),
        limit: options.limit,
        skip: options.skip,
    };
    parse(host::find(
        profile,
        collection,
        &filter.to_string(),
        &options,
    )?)
}

/// Inserts `documents` (JSON objects): their `_id`s in order.
pub fn insert(profile: &str, collection: &str, documents: &[Value]) -> Result<Vec<Value>, DbError> {
    let documents: Vec<String> = documents.iter().map(Value::to_string).collect();
    parse(host::insert(profile, collection, &documents)?)
}

/// Applies `update` to the first document matching `filter`, or to every
/// one when `many`.
pub fn update(
    profile: &str,
    collection: &str,
    filter: &Value,
    update: &Value,
    many: bool,
) -> Result<UpdateOutcome, DbError> {
    host::update(
        profile,
        collection,
        &filter.to_string(),
        &update.to_string(),
        many,
    )
}

/// Deletes the first document matching `filter`, or every one when
/// `many`: how many it deleted.
pub fn delete(profile: &str, collection: &str, filter: &Value, many: bool) -> Result<u64, DbError> {
    host::delete(profile, collection, &filter.to_string(), many)
}
