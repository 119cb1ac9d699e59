//! `lord:plugin/document`: a plugin granted `db(NAME)` finds, inserts,
//! updates and deletes JSON documents in the user's profile `NAME`
//! (MongoDB), through the host's [`DbService`](super::DbService), as `sql`
//! does: the grant checked by exact name, the JSON it sends parsed here
//! (a filter is a document, never text a server parses) and bounded, the
//! answer bounded ([`MAX_ROWS`](super::MAX_ROWS) documents,
//! [`MAX_RESULT_BYTES`](super::MAX_RESULT_BYTES)), every call under the
//! call's deadline.

use lord_db_api::{Bounds, FindOptions, UpdateOutcome};
use lord_manifest::PermissionFamily;
use lord_perf::Area;
use serde_json::Value as Json;
use wasmtime::component::{HasSelf, Linker};

use super::HostInterface;
use super::sql::{DbFailure, Refused, error_to_wit};
use crate::bindings::lord::plugin::document;
use crate::session::StoreState;

pub(crate) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/document",
    family: Some(PermissionFamily::Db),
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    document::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

/// The most JSON text one call may send.
pub(crate) const MAX_SENT_BYTES: usize = 8 << 20;

/// One document operation, its JSON parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum DocumentOp {
    Find {
        collection: String,
        filter: Json,
        options: FindOptions,
    },
    Insert {
        collection: String,
        documents: Vec<Json>,
    },
    Update {
        collection: String,
        filter: Json,
        update: Json,
        many: bool,
    },
    Delete {
        collection: String,
        filter: Json,
        many: bool,
    },
}

/// A document operation a plugin asks for, checked against its grants.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentCall {
    /// The profile's name, as granted.
    pub profile: String,
    pub op: DocumentOp,
    /// What the answer may hold (documents as rows, their JSON as bytes),
    /// and when the call must end.
    pub bounds: Bounds,
}

/// What a document operation answered, by operation.
#[derive(Debug, Clone, PartialEq)]
pub enum DocumentAnswer {
    /// `find`: the documents.
    Documents(Vec<Json>),
    /// `insert`: the `_id`s.
    Ids(Vec<Json>),
    Updated(UpdateOutcome),
    /// `delete`: how many.
    Deleted(u64),
}

/// Reads the JSON text a plugin sent as `what`, adding its size to `sent`.
fn parse(text: &str, what: &str, sent: &mut usize) -> Result<Json, Refused> {
    *sent = sent.saturating_add(text.len());
    if *sent > MAX_SENT_BYTES {
        return Err(Refused::invalid(format!(
            "the call sends over {MAX_SENT_BYTES} bytes (8 MiB) of JSON, more than a plugin may"
        )));
    }
    serde_json::from_str(text).map_err(|e| Refused::invalid(format!("the {what} is not JSON: {e}")))
}

/// A filter, update or document: a JSON object (an update may also be a
/// pipeline, an array).
fn object(value: Json, what: &str, array_too: bool) -> Result<Json, Refused> {
    match value {
        Json::Object(_) => Ok(value),
        Json::Array(_) if array_too => Ok(value),
        Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_) | Json::Array(_) => Err(
            Refused::invalid(format!("the {what} must be a JSON object")),
        ),
    }
}

fn collection(name: String) -> Result<String, Refused> {
    if name.is_empty() || name.len() > 255 || name.contains('\0') || name.starts_with("system.") {
        return Err(Refused::invalid(format!(
            "`{}` is not a collection a plugin may use",
            name.escape_debug()
        )));
    }
    Ok(name)
}

impl StoreState {
    /// Checks and runs one operation; `build` parses what the plugin sent.
    async fn document_run(
        &mut self,
        profile: String,
        build: impl FnOnce(&mut usize) -> Result<DocumentOp, Refused>,
    ) -> Result<DocumentAnswer, DbFailure> {
        let mut sent = 0;
        let op = self
            .db
            .granted(&profile)
            .and_then(|()| build(&mut sent))
            .map_err(|refused| self.db_refused(refused))?;
        let call = DocumentCall {
            profile,
            op,
            bounds: Bounds {
                max_rows: super::MAX_ROWS,
                max_bytes: super::MAX_RESULT_BYTES,
                deadline: Some(self.call_deadline()),
            },
        };
        let service = self.db_service()?;
        service.document(self.plugin.as_str(), call).await
    }
}

fn mismatch() -> DbFailure {
    DbFailure::Engine("the host answered another operation".to_owned())
}

fn options(wit: document::FindOptions, sent: &mut usize) -> Result<FindOptions, Refused> {
    let mut options = FindOptions::default();
    if let Some(text) = wit.projection {
        options.projection = Some(object(
            parse(&text, "projection", sent)?,
            "projection",
            false,
        )?);
    }
    if let Some(text) = wit.sort {
        options.sort = Some(object(parse(&text, "sort", sent)?, "sort", false)?);
    }
    options.limit = wit.limit;
    options.skip = wit.skip;
    Ok(options)
}

impl document::Host for StoreState {
    async fn find(
        &mut self,
        profile: String,
        name: String,
        filter: String,
        find: document::FindOptions,
    ) -> wasmtime::Result<Result<Vec<String>, document::DbError>> {
        self.meter.enter(Area::Db);
        let answer = self
            .document_run(profile, |sent| {
                Ok(DocumentOp::Find {
                    collection: collection(name)?,
                    filter: object(parse(&filter, "filter", sent)?, "filter", false)?,
                    options: options(find, sent)?,
                })
            })
            .await;
        let answer = match answer {
            Ok(DocumentAnswer::Documents(docs)) => Ok(docs.iter().map(Json::to_string).collect()),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        };
        Ok(answer.map_err(error_to_wit))
    }

    async fn insert(
        &mut self,
        profile: String,
        name: String,
        documents: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<String>, document::DbError>> {
        self.meter.enter(Area::Db);
        let answer = self
            .document_run(profile, |sent| {
                if documents.len() > super::MAX_ROWS {
                    return Err(Refused::invalid(format!(
                        "{} documents, over the {} one insert may hold",
                        documents.len(),
                        super::MAX_ROWS
                    )));
                }
                let documents = documents
                    .iter()
                    .map(|text| object(parse(text, "document", sent)?, "document", false))
                    .collect::<Result<_, _>>()?;
                Ok(DocumentOp::Insert {
                    collection: collection(name)?,
                    documents,
                })
            })
            .await;
        let answer = match answer {
            Ok(DocumentAnswer::Ids(ids)) => Ok(ids.iter().map(Json::to_string).collect()),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        };
        Ok(answer.map_err(error_to_wit))
    }

    async fn update(
        &mut self,
        profile: String,
        name: String,
        filter: String,
        update: String,
        many: bool,
    ) -> wasmtime::Result<Result<document::UpdateOutcome, document::DbError>> {
        self.meter.enter(Area::Db);
        let answer = self
            .document_run(profile, |sent| {
                Ok(DocumentOp::Update {
                    collection: collection(name)?,
                    filter: object(parse(&filter, "filter", sent)?, "filter", false)?,
                    update: object(parse(&update, "update", sent)?, "update", true)?,
                    many,
                })
            })
            .await;
        let answer = match answer {
            Ok(DocumentAnswer::Updated(outcome)) => Ok(document::UpdateOutcome {
                matched: outcome.matched,
                modified: outcome.modified,
            }),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        };
        Ok(answer.map_err(error_to_wit))
    }

    async fn delete(
        &mut self,
        profile: String,
        name: String,
        filter: String,
        many: bool,
    ) -> wasmtime::Result<Result<u64, document::DbError>> {
        self.meter.enter(Area::Db);
        let answer = self
            .document_run(profile, |sent| {
                Ok(DocumentOp::Delete {
                    collection: collection(name)?,
                    filter: object(parse(&filter, "filter", sent)?, "filter", false)?,
                    many,
                })
            })
            .await;
        let answer = match answer {
            Ok(DocumentAnswer::Deleted(n)) => Ok(n),
            Ok(_) => Err(mismatch()),
            Err(e) => Err(e),
        };
        Ok(answer.map_err(error_to_wit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_plugin_sends_is_parsed_as_documents_and_bounded() {
        let mut sent = 0;
        let filter = object(
            parse(r#"{"name": {"$ne": null}}"#, "filter", &mut sent).unwrap(),
            "filter",
            false,
        );
        assert!(filter.is_ok());
        assert!(object(Json::from("x"), "filter", false).is_err());
        assert!(object(serde_json::json!([{"$set": {}}]), "update", true).is_ok());
        assert!(parse("{not json", "filter", &mut sent).is_err());
        let mut sent = MAX_SENT_BYTES;
        assert!(parse("{}", "filter", &mut sent).is_err());
        assert!(collection("system.users".into()).is_err());
        assert!(collection(String::new()).is_err());
        assert_eq!(collection("visits".into()).ok().as_deref(), Some("visits"));
    }
}
