//! Statements written once for both backends. Where SQLite and PostgreSQL
//! accept the same SQL (plain tables of `BIGINT` and `TEXT` columns,
//! `INSERT ... ON CONFLICT`, `RETURNING`), a feature's queries are written
//! once against [`Sql`], a transaction on either backend, instead of twice
//! side by side. Placeholders are PostgreSQL's `$1`, `$2`...; SQLite reads
//! them as its numbered `?1`, `?2`... after a rewrite. Values are integers
//! and text only: a PostgreSQL parameter is typed by its column, so every
//! integer column these statements bind is `BIGINT` (or cast to it).

use crate::error::RegistryError;

/// A value bound to or read from a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    Int(i64),
    Text(String),
    Null,
}

impl Val {
    pub(crate) fn int(&self) -> i64 {
        match self {
            Self::Int(n) => *n,
            Self::Text(_) | Self::Null => 0,
        }
    }

    pub(crate) fn text(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Int(n) => n.to_string(),
            Self::Null => String::new(),
        }
    }
}

impl From<i64> for Val {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}

impl From<&str> for Val {
    fn from(t: &str) -> Self {
        Self::Text(t.to_owned())
    }
}

impl From<String> for Val {
    fn from(t: String) -> Self {
        Self::Text(t)
    }
}

/// A transaction on either backend.
pub(crate) trait Sql {
    /// Runs a statement; the number of rows it changed.
    fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, RegistryError>;
    /// Runs a query; its rows.
    fn rows(&mut self, sql: &str, args: &[Val]) -> Result<Vec<Vec<Val>>, RegistryError>;
    /// Whether this is PostgreSQL (for the few statements that differ,
    /// like row locks SQLite has no use for: it has one writer at a time).
    fn is_postgres(&self) -> bool;
}

/// `$N` placeholders as SQLite's `?N`.
fn for_sqlite(sql: &str) -> String {
    sql.replace('$', "?")
}

impl Sql for rusqlite::Transaction<'_> {
    fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, RegistryError> {
        let changed = self.execute(
            &for_sqlite(sql),
            rusqlite::params_from_iter(args.iter().map(lite)),
        )?;
        Ok(changed as u64)
    }

    fn rows(&mut self, sql: &str, args: &[Val]) -> Result<Vec<Vec<Val>>, RegistryError> {
        let mut stmt = self.prepare(&for_sqlite(sql))?;
        let width = stmt.column_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter().map(lite)), |r| {
                (0..width)
                    .map(|i| {
                        Ok(match r.get::<_, rusqlite::types::Value>(i)? {
                            rusqlite::types::Value::Integer(n) => Val::Int(n),
                            rusqlite::types::Value::Text(t) => Val::Text(t),
                            // Reals and blobs are not used by these tables.
                            rusqlite::types::Value::Real(_)
                            | rusqlite::types::Value::Blob(_)
                            | rusqlite::types::Value::Null => Val::Null,
                        })
                    })
                    .collect::<rusqlite::Result<Vec<Val>>>()
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn is_postgres(&self) -> bool {
        false
    }
}

fn lite(v: &Val) -> rusqlite::types::Value {
    match v {
        Val::Int(n) => rusqlite::types::Value::Integer(*n),
        Val::Text(t) => rusqlite::types::Value::Text(t.clone()),
        Val::Null => rusqlite::types::Value::Null,
    }
}

impl Sql for postgres::Transaction<'_> {
    fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, RegistryError> {
        let owned = pg_args(args);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            owned.iter().map(|b| &**b as _).collect();
        Ok(self.execute(sql, &refs)?)
    }

    fn rows(&mut self, sql: &str, args: &[Val]) -> Result<Vec<Vec<Val>>, RegistryError> {
        let owned = pg_args(args);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            owned.iter().map(|b| &**b as _).collect();
        let rows = self.query(sql, &refs)?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| pg_value(row, i))
                    .collect::<Result<Vec<Val>, RegistryError>>()
            })
            .collect()
    }

    fn is_postgres(&self) -> bool {
        true
    }
}

type PgArg = Box<dyn postgres::types::ToSql + Sync>;

fn pg_args(args: &[Val]) -> Vec<PgArg> {
    args.iter()
        .map(|v| -> PgArg {
            match v {
                Val::Int(n) => Box::new(*n),
                Val::Text(t) => Box::new(t.clone()),
                // Typed as text; the statements here bind no other null.
                Val::Null => Box::new(None::<String>),
            }
        })
        .collect()
}

fn pg_value(row: &postgres::Row, i: usize) -> Result<Val, RegistryError> {
    use postgres::types::Type;
    let ty = row.columns()[i].type_().clone();
    Ok(if ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?
            .map_or(Val::Null, Val::Int)
    } else if ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?
            .map_or(Val::Null, |n| Val::Int(i64::from(n)))
    } else if ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)?
            .map_or(Val::Null, |n| Val::Int(i64::from(n)))
    } else if ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?
            .map_or(Val::Null, |b| Val::Int(i64::from(b)))
    } else {
        row.try_get::<_, Option<String>>(i)?
            .map_or(Val::Null, Val::Text)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_become_sqlites_numbered_ones() {
        assert_eq!(
            super::for_sqlite("SELECT $1, $2 WHERE a = $1"),
            "SELECT ?1, ?2 WHERE a = ?1"
        );
    }
}
