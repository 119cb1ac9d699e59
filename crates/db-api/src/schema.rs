//! One table as an engine's catalogue describes it: columns with their
//! types and nullability, the primary key, indexes and foreign keys.
//! Each engine reads its own catalogue (`information_schema`, `pg_catalog`,
//! SQLite's pragmas) into these shapes, so `lord db schema` prints one
//! form for all of them.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// The primary key's columns in key order; empty when there is none.
    pub primary_key: Vec<String>,
    pub indexes: Vec<Index>,
    pub foreign_keys: Vec<ForeignKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub name: String,
    /// The type as the engine names it (`integer`, `varchar(40)`, `TEXT`).
    pub data_type: String,
    pub nullable: bool,
    /// The default as the engine writes it, if any.
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    pub references_table: String,
    pub references_columns: Vec<String>,
}
