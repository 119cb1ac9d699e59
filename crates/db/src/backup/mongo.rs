//! MongoDB: every collection of the profile's database, with its options
//! and indexes (`listCollections`, `listIndexes`), and its documents as
//! the raw BSON the server sent, so every BSON type (doubles with NaN and
//! -0.0, binary subtypes, decimal128, timestamps, regular expressions,
//! JavaScript code, min and max keys…) and every field order comes back
//! byte for byte. The payload is lord's own stream:
//!
//! ```text
//! lord-mongodb-dump 1\n
//! then frames, each one tag byte and one BSON document (BSON documents
//! carry their own length):
//!   'C' a collection: {name, type, options, indexes}; its documents follow
//!   'D' a document of the collection before it
//! ```
//!
//! Views are kept as their definition (`viewOn`, `pipeline`), without
//! documents. MongoDB's own `system.*` collections are left out and named
//! in the manifest's `left_out`. Like `mongodump` without `--oplog`, a dump
//! is not one snapshot: a document written while its collection is read
//! may or may not be in it.
//!
//! A restore creates each collection with its options (after dropping it
//! under `--replace`, as `mongorestore --drop` does), inserts its
//! documents in ordered batches, then builds its indexes.

use std::io::{Read, Write};

use bson::{Bson, Document, RawDocumentBuf, doc};
use lord_db_api::{DbError, Password, Profile};

use super::{BackupError, Dumped, RestoreOptions, Step, TableRows, archive};
use crate::mongo::MongoSession;

const HEADER: &str = "lord-mongodb-dump 1\n";
const COLLECTION: u8 = b'C';
const DOCUMENT: u8 = b'D';
/// Documents inserted per `insert`, at most.
const BATCH_DOCS: usize = 1000;
/// Bytes of documents per `insert`, at most (the server takes 48 MB per
/// message; the driver splits what is larger anyway).
const BATCH_BYTES: usize = 8 << 20;

fn engine_error(profile: &Profile, e: &mongodb::error::Error) -> BackupError {
    BackupError::Db(DbError::Engine {
        profile: profile.name.to_string(),
        engine: "mongodb",
        message: e.to_string(),
    })
}

/// A collection as the dump describes it.
struct Collection {
    name: String,
    /// `collection`, `view` or `timeseries`.
    kind: String,
    options: Document,
    indexes: Vec<Document>,
}

impl Collection {
    fn to_document(&self) -> Document {
        doc! {
            "name": &self.name,
            "type": &self.kind,
            "options": self.options.clone(),
            "indexes": self.indexes.clone(),
        }
    }

    fn from_document(d: &Document) -> Option<Self> {
        let indexes = d
            .get_array("indexes")
            .ok()?
            .iter()
            .map(|i| i.as_document().cloned())
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            name: d.get_str("name").ok()?.to_owned(),
            kind: d.get_str("type").ok()?.to_owned(),
            options: d.get_document("options").ok()?.clone(),
            indexes,
        })
    }

    fn holds_documents(&self) -> bool {
        self.kind != "view"
    }
}

/// The documents of a cursor command's whole cursor.
fn listed(
    profile: &Profile,
    db: &mongodb::sync::Database,
    command: Document,
) -> Result<Vec<Document>, BackupError> {
    let fail = |e: mongodb::error::Error| engine_error(profile, &e);
    db.run_cursor_command(command)
        .run()
        .map_err(fail)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(fail)
}

/// The database's collections, by name; MongoDB's own apart.
fn collections(
    profile: &Profile,
    db: &mongodb::sync::Database,
) -> Result<(Vec<Collection>, Vec<String>), BackupError> {
    let mut ours = Vec::new();
    let mut system = Vec::new();
    for spec in listed(profile, db, doc! {"listCollections": 1})? {
        let Ok(name) = spec.get_str("name") else {
            continue;
        };
        if name.starts_with("system.") {
            system.push(name.to_owned());
            continue;
        }
        let kind = spec.get_str("type").unwrap_or("collection").to_owned();
        let indexes = if kind == "view" {
            Vec::new()
        } else {
            listed(profile, db, doc! {"listIndexes": name})?
        };
        ours.push(Collection {
            name: name.to_owned(),
            kind,
            options: spec.get_document("options").cloned().unwrap_or_default(),
            indexes,
        });
    }
    ours.sort_by(|a, b| a.name.cmp(&b.name));
    system.sort();
    Ok((ours, system))
}

fn frame(out: &mut impl Write, tag: u8, bytes: &[u8]) -> std::io::Result<u64> {
    out.write_all(&[tag])?;
    out.write_all(bytes)?;
    Ok(bytes.len() as u64 + 1)
}

pub(super) fn dump(
    profile: &Profile,
    password: Option<&Password>,
    into: &mut std::fs::File,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<Dumped, BackupError> {
    let session = MongoSession::open(profile, password)?;
    let db = session.raw_database();
    let fail = |e: mongodb::error::Error| engine_error(profile, &e);
    let info = db.run_command(doc! {"buildInfo": 1}).run().map_err(fail)?;
    let server_version = info.get_str("version").unwrap_or("unknown").to_owned();
    let (collections, system) = collections(profile, db)?;
    let mut out = std::io::BufWriter::new(into);
    let write = |source| BackupError::Io {
        what: "writing the dump".to_owned(),
        source,
    };
    out.write_all(HEADER.as_bytes()).map_err(&write)?;
    let mut written = HEADER.len() as u64;
    let mut tables = Vec::new();
    for collection in &collections {
        let header = collection
            .to_document()
            .to_vec()
            .map_err(|e| BackupError::Io {
                what: format!("writing the collection `{}`", collection.name),
                source: std::io::Error::other(e),
            })?;
        written += frame(&mut out, COLLECTION, &header).map_err(&write)?;
        if !collection.holds_documents() {
            continue;
        }
        let mut rows = 0;
        let cursor = db
            .collection::<RawDocumentBuf>(&collection.name)
            .find(doc! {})
            .run()
            .map_err(fail)?;
        for document in cursor {
            let document = document.map_err(fail)?;
            written += frame(&mut out, DOCUMENT, document.as_bytes()).map_err(&write)?;
            rows += 1;
            if rows % 1000 == 0 {
                progress(Step::Bytes {
                    done: written,
                    total: None,
                });
            }
        }
        tables.push(TableRows {
            name: collection.name.clone(),
            schema: None,
            rows,
        });
        progress(Step::Bytes {
            done: written,
            total: None,
        });
    }
    out.flush().map_err(&write)?;
    Ok(Dumped {
        tool: format!("lord (MongoDB {server_version} BSON)"),
        server_version,
        tables,
        left_out: system
            .into_iter()
            .map(|name| format!("MongoDB's own collection `{name}`"))
            .collect(),
    })
}

/// One frame of a dump.
enum Frame {
    Collection(Collection),
    Document(RawDocumentBuf),
}

/// Reads the frames of a dump, one at a time.
struct Frames<R>(archive::Framed<R>);

impl<R: Read> Frames<R> {
    fn new(input: R, total: u64) -> Result<Self, String> {
        archive::Framed::new(input, total, HEADER, "MongoDB").map(Self)
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), String> {
        self.0.exact(buf, "a document")
    }

    /// The next frame, or `None` at the end of the dump. Each document is
    /// read whole as BSON, so one that does not parse is found here.
    fn next_frame(&mut self) -> Result<Option<Frame>, String> {
        if self.0.left == 0 {
            return Ok(None);
        }
        let mut tag = [0; 1];
        self.exact(&mut tag)?;
        let mut length = [0; 4];
        self.exact(&mut length)?;
        let n = usize::try_from(i32::from_le_bytes(length))
            .ok()
            .filter(|n| *n >= 5)
            .ok_or("a document in its dump has an impossible length")?;
        let mut bytes = vec![0; n];
        bytes[..4].copy_from_slice(&length);
        self.exact(&mut bytes[4..])?;
        let raw = RawDocumentBuf::from_bytes(bytes)
            .map_err(|e| format!("a document in its dump is not BSON: {e}"))?;
        let parsed = bson::Utf8Lossy::<Document>::try_from(&raw)
            .map_err(|e| format!("a document in its dump is not BSON: {e}"))?;
        match tag[0] {
            COLLECTION => Collection::from_document(&parsed.0)
                .map(|c| Some(Frame::Collection(c)))
                .ok_or_else(|| "a collection in its dump lacks its name or type".to_owned()),
            DOCUMENT => Ok(Some(Frame::Document(raw))),
            other => Err(format!("its dump holds a frame of unknown kind {other}")),
        }
    }
}

/// The dump's frames, read through its checksum: a file changed since it
/// was opened fails its last read rather than handing over documents its
/// manifest does not cover.
fn frames(opened: &mut archive::Opened) -> Result<Frames<archive::Verified<'_>>, BackupError> {
    let total = opened.manifest.payload_bytes;
    let path = opened.path.clone();
    let payload = opened.verified_payload()?;
    Frames::new(payload, total).map_err(|message| BackupError::Corrupt { path, message })
}

/// The dump reads to its end, every document parses, and it holds the
/// collections and document counts its manifest lists.
pub(super) fn check(opened: &mut archive::Opened) -> Result<(), BackupError> {
    let path = opened.path.clone();
    let corrupt = |message: String| BackupError::Corrupt {
        path: path.clone(),
        message,
    };
    let mut frames = frames(opened)?;
    let mut tables: Vec<TableRows> = Vec::new();
    let mut current: Option<bool> = None;
    while let Some(frame) = frames.next_frame().map_err(&corrupt)? {
        match frame {
            Frame::Collection(c) => {
                current = Some(c.holds_documents());
                if c.holds_documents() {
                    tables.push(TableRows {
                        name: c.name,
                        schema: None,
                        rows: 0,
                    });
                }
            }
            Frame::Document(_) => match (current, tables.last_mut()) {
                (Some(true), Some(table)) => table.rows += 1,
                (Some(_) | None, _) => {
                    return Err(corrupt(
                        "its dump holds a document outside any collection".to_owned(),
                    ));
                }
            },
        }
    }
    if tables != opened.manifest.tables {
        return Err(corrupt(
            "its dump holds other collections or document counts than its manifest lists"
                .to_owned(),
        ));
    }
    Ok(())
}

/// What the target holds already, if anything.
fn held(profile: &Profile, db: &mongodb::sync::Database) -> Result<Option<String>, BackupError> {
    let (collections, _) = collections(profile, db)?;
    Ok((!collections.is_empty()).then(|| format!("it holds {} collection(s)", collections.len())))
}

/// Creates `collection` (dropped first under `replace`).
fn create(
    profile: &Profile,
    db: &mongodb::sync::Database,
    collection: &Collection,
    replace: bool,
) -> Result<(), BackupError> {
    let fail = |e: mongodb::error::Error| engine_error(profile, &e);
    if replace {
        db.collection::<Document>(&collection.name)
            .drop()
            .run()
            .map_err(fail)?;
    }
    let mut command = doc! {"create": &collection.name};
    for (key, value) in &collection.options {
        command.insert(key.clone(), value.clone());
    }
    db.run_command(command).run().map_err(fail)?;
    Ok(())
}

/// Builds the indexes of `collection` but its `_id` one, which `create`
/// made.
fn index(
    profile: &Profile,
    db: &mongodb::sync::Database,
    collection: &Collection,
) -> Result<(), BackupError> {
    let specs: Vec<Bson> = collection
        .indexes
        .iter()
        .filter(|spec| spec.get_str("name").ok() != Some("_id_"))
        .map(|spec| {
            let mut spec = spec.clone();
            // Server-assigned: the index version and, before 4.4, its
            // namespace, which names the database the backup came from.
            spec.remove("v");
            spec.remove("ns");
            Bson::Document(spec)
        })
        .collect();
    if specs.is_empty() {
        return Ok(());
    }
    db.run_command(doc! {"createIndexes": &collection.name, "indexes": specs})
        .run()
        .map_err(|e| engine_error(profile, &e))?;
    Ok(())
}

/// Collections whose documents are being inserted, batched.
struct Loader<'a> {
    profile: &'a Profile,
    db: &'a mongodb::sync::Database,
    current: Option<Collection>,
    batch: Vec<RawDocumentBuf>,
    bytes: usize,
}

impl Loader<'_> {
    fn flush(&mut self) -> Result<(), BackupError> {
        let Some(collection) = &self.current else {
            return Ok(());
        };
        if !self.batch.is_empty() {
            self.db
                .collection::<RawDocumentBuf>(&collection.name)
                .insert_many(&self.batch)
                .run()
                .map_err(|e| engine_error(self.profile, &e))?;
        }
        self.batch.clear();
        self.bytes = 0;
        Ok(())
    }

    /// Ends the collection being loaded: its last documents, then its
    /// indexes.
    fn finish(&mut self) -> Result<(), BackupError> {
        self.flush()?;
        if let Some(collection) = self.current.take() {
            index(self.profile, self.db, &collection)?;
        }
        Ok(())
    }
}

fn load(
    profile: &Profile,
    db: &mongodb::sync::Database,
    opened: &mut archive::Opened,
    replace: bool,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<(), BackupError> {
    let total = opened.manifest.payload_bytes;
    let path = opened.path.clone();
    let mut frames = frames(opened)?;
    let mut loader = Loader {
        profile,
        db,
        current: None,
        batch: Vec::new(),
        bytes: 0,
    };
    while let Some(frame) = frames
        .next_frame()
        .map_err(|message| BackupError::Corrupt {
            path: path.clone(),
            message,
        })?
    {
        match frame {
            Frame::Collection(collection) => {
                loader.finish()?;
                create(profile, db, &collection, replace)?;
                loader.current = Some(collection);
            }
            Frame::Document(document) => {
                loader.bytes += document.as_bytes().len();
                loader.batch.push(document);
                if loader.batch.len() >= BATCH_DOCS || loader.bytes >= BATCH_BYTES {
                    loader.flush()?;
                    progress(Step::Bytes {
                        done: total - frames.0.left,
                        total: Some(total),
                    });
                }
            }
        }
    }
    loader.finish()?;
    progress(Step::Bytes {
        done: total,
        total: Some(total),
    });
    Ok(())
}

/// Each collection's document count against the manifest's.
fn compare(
    profile: &Profile,
    db: &mongodb::sync::Database,
    tables: &[TableRows],
) -> Result<(), BackupError> {
    let mut differences = Vec::new();
    for table in tables {
        let counted = db
            .collection::<Document>(&table.name)
            .count_documents(doc! {})
            .run();
        match counted {
            Ok(n) if n == table.rows => {}
            Ok(n) => differences.push(format!(
                "`{}` has {n} document(s), the backup {}",
                table.name, table.rows
            )),
            Err(e) => differences.push(format!("`{}` cannot be counted: {e}", table.name)),
        }
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(BackupError::Counts {
        profile: profile.name.to_string(),
        differences: differences.join("; "),
    })
}

/// Restores a checked dump into the profile's database: refused when it
/// holds collections (unless `replace`), then loaded and counted.
pub(super) fn restore(
    profile: &Profile,
    password: Option<&Password>,
    opened: &mut archive::Opened,
    options: RestoreOptions,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<(), BackupError> {
    let session = MongoSession::open(profile, password)?;
    let db = session.raw_database();
    if !options.replace
        && let Some(what) = held(profile, db)?
    {
        return Err(BackupError::NotEmpty {
            profile: profile.name.to_string(),
            what,
        });
    }
    progress(Step::Phase("restoring"));
    let file = opened.path.display().to_string();
    // A failure of the server's, or a dump that no longer reads as it did
    // when it was checked (the file changed since), leaves what was
    // loaded so far.
    load(profile, db, opened, options.replace, progress).map_err(|e| {
        let cause = match archive::failed_read(e) {
            Ok(message) => archive::stopped_by_change(&file, &message),
            Err(e) => {
                let BackupError::Db(e) = e else {
                    return e;
                };
                e.to_string()
            }
        };
        BackupError::Tool {
            tool: "the MongoDB restore".to_owned(),
            message: format!(
                "{cause}; the database of `{name}` may now hold part of the backup: fix the \
                 cause, then run `lord db restore {name} {file} --replace` again",
                name = profile.name,
            ),
        }
    })?;
    progress(Step::Phase("counting documents"));
    compare(profile, db, &opened.manifest.tables)
}
