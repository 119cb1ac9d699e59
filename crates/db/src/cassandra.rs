//! Apache Cassandra and ScyllaDB through ScyllaDB's `scylla` driver.
//!
//! The driver is async only: every call here blocks on one runtime shared
//! by the process's Cassandra sessions (a worker thread of its own keeps
//! the driver's background tasks, such as refilling its connection pools,
//! running between calls). As for the other engines, call from a thread
//! that may block, never from inside a Tokio runtime.
//!
//! `cassandra://[USER@]HOST[:PORT][,HOST[:PORT]...][/KEYSPACE]`: the hosts
//! to reach the cluster through (port 9042 unless given), the user of the
//! PasswordAuthenticator (its password from `lord secret`) and the
//! keyspace statements run in. Every statement with values is prepared
//! and its values bound to the types the server gives its `?`s
//! ([`bind`]); none is spliced into CQL text.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use lord_db_api::{
    Column, DbError, Engine, Password, Profile, Rows, Table, TlsMode, Value, WideColumnSession,
};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::frame::response::result::{ColumnType, NativeType};
use scylla::statement::unprepared::Statement;
use scylla::value::{CqlValue, Row};

const DEFAULT_PORT: u16 = 9042;

/// A `cassandra://` URL's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CassandraUrl {
    pub(crate) user: Option<String>,
    /// `host:port`, the port filled in.
    pub(crate) hosts: Vec<String>,
    pub(crate) keyspace: Option<String>,
}

/// Reads a `cassandra://` URL (already checked for passwords by the
/// profile).
pub(crate) fn parse_url(url: &str) -> Result<CassandraUrl, String> {
    let rest = url
        .strip_prefix("cassandra://")
        .ok_or("a Cassandra URL starts with cassandra://")?;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (user, hosts) = match authority.rsplit_once('@') {
        Some((user, hosts)) => (Some(user.to_owned()).filter(|u| !u.is_empty()), hosts),
        None => (None, authority),
    };
    let hosts = hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| {
            // `[::1]:9042`, `[::1]`, `host:9042` or `host`.
            let has_port = match h.rfind(']') {
                Some(end) => h[end..].contains(':'),
                None => h.contains(':'),
            };
            if has_port {
                let port = h.rsplit(':').next().unwrap_or_default();
                port.parse::<u16>()
                    .map(|_| h.to_owned())
                    .map_err(|_| format!("`{h}` has no valid port"))
            } else {
                Ok(format!("{h}:{DEFAULT_PORT}"))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    if hosts.is_empty() {
        return Err("the URL names no host; write cassandra://USER@HOST:9042/KEYSPACE".into());
    }
    let keyspace = Some(path.trim_end_matches('/').to_owned()).filter(|k| !k.is_empty());
    Ok(CassandraUrl {
        user,
        hosts,
        keyspace,
    })
}

/// The runtime every Cassandra session blocks on.
fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("lord-cassandra")
                .enable_all()
                .build()
                .map_err(|e| format!("could not start the Cassandra driver's runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

pub(crate) struct CassandraSession {
    session: Arc<Session>,
    keyspace: Option<String>,
    statement_timeout: Option<std::time::Duration>,
    profile: String,
}

impl CassandraSession {
    pub(crate) fn open(profile: &Profile, password: Option<&Password>) -> Result<Self, DbError> {
        let name = profile.name.to_string();
        let url = parse_url(&profile.url).map_err(DbError::Profile)?;
        let hosts = url.hosts.join(",");
        let connect = |message: String| DbError::Connect {
            profile: name.clone(),
            engine: "cassandra",
            message: format!("{hosts}: {message}"),
        };
        let mut builder = SessionBuilder::new()
            .known_nodes(&url.hosts)
            .connection_timeout(profile.connect_timeout);
        match (&url.user, password) {
            (Some(user), Some(password)) => builder = builder.user(user, password.expose()),
            (Some(_), None) | (None, None) => {}
            (None, Some(_)) => {
                return Err(connect(format!(
                    "a password is stored for it but its URL names no user; write it like \
                     cassandra://USER@HOST:9042/KEYSPACE (`lord db add {name} URL`)"
                )));
            }
        }
        if let Some(keyspace) = &url.keyspace {
            builder = builder.use_keyspace(keyspace, true);
        }
        match profile.tls_mode {
            TlsMode::Require | TlsMode::VerifyFull => {
                let config =
                    crate::tls::client_config(profile.ca_file.as_deref()).map_err(connect)?;
                builder = builder.tls_context(Some(Arc::new(config)));
            }
            // CQL's TLS is a separate port, not an upgrade: `prefer` is
            // plain, as for Redis.
            TlsMode::Disable | TlsMode::Prefer => {}
        }
        let runtime = runtime().map_err(connect)?;
        let timeout = profile.connect_timeout;
        let session = runtime
            .block_on(async { tokio::time::timeout(timeout, builder.build()).await })
            .map_err(|_| connect(format!("no answer within {} s", timeout.as_secs())))?
            .map_err(|e| connect(e.to_string()))?;
        Ok(Self {
            session: Arc::new(session),
            keyspace: url.keyspace,
            statement_timeout: profile.statement_timeout,
            profile: profile.name.to_string(),
        })
    }

    fn error(&self, message: String) -> DbError {
        DbError::Engine {
            profile: self.profile.clone(),
            engine: "cassandra",
            message,
        }
    }

    fn keyspace_or(&self, keyspace: Option<&str>) -> Result<String, DbError> {
        keyspace
            .map(str::to_owned)
            .or_else(|| self.keyspace.clone())
            .ok_or_else(|| {
                DbError::Profile(format!(
                    "the database profile `{}` names no keyspace; name one, or add it to the \
                     URL (cassandra://HOST/KEYSPACE)",
                    self.profile
                ))
            })
    }

    /// The text column of every row of a schema query.
    fn names(&mut self, cql: &str, params: &[Value]) -> Result<Vec<String>, DbError> {
        let rows = self.run(cql, params)?;
        let mut names: Vec<String> = rows
            .rows
            .iter()
            .filter_map(|r| r.first().and_then(Value::as_text))
            .collect();
        names.sort();
        Ok(names)
    }
}

/// A cell as the contract's value: what it has a variant for as such,
/// everything else (dates, UUIDs, decimals, collections) as the driver
/// writes it in CQL.
pub(crate) fn value(cell: Option<CqlValue>) -> Value {
    match cell {
        None | Some(CqlValue::Empty) => Value::Null,
        Some(CqlValue::Boolean(b)) => Value::Bool(b),
        Some(CqlValue::TinyInt(i)) => Value::Int(i64::from(i)),
        Some(CqlValue::SmallInt(i)) => Value::Int(i64::from(i)),
        Some(CqlValue::Int(i)) => Value::Int(i64::from(i)),
        Some(CqlValue::BigInt(i)) => Value::Int(i),
        Some(CqlValue::Counter(c)) => Value::Int(c.0),
        Some(CqlValue::Float(f)) => Value::Float(f64::from(f)),
        Some(CqlValue::Double(f)) => Value::Float(f),
        Some(CqlValue::Text(t) | CqlValue::Ascii(t)) => Value::Text(t),
        Some(CqlValue::Blob(b)) => Value::Bytes(b),
        Some(CqlValue::Inet(ip)) => Value::Text(ip.to_string()),
        Some(other) => {
            // The driver writes CQL literals: a date or a duration in
            // quotes, which a cell does not need; collections as they are.
            let text = other.to_string();
            match text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
                Some(inner) if !inner.contains('\'') => Value::Text(inner.to_owned()),
                _ => Value::Text(text),
            }
        }
    }
}

/// A bound value as the CQL type the server expects at its `?`; the
/// error says which value and type do not fit.
pub(crate) fn bind(value: &Value, typ: &ColumnType<'_>) -> Result<Option<CqlValue>, String> {
    let native = if let ColumnType::Native(native) = typ {
        Some(native)
    } else {
        None
    };
    let fits = |ok: bool, v: CqlValue| if ok { Ok(Some(v)) } else { Err(()) };
    let bound = match (value, native) {
        (Value::Null, _) => Ok(None),
        (Value::Bool(b), Some(NativeType::Boolean)) => Ok(Some(CqlValue::Boolean(*b))),
        (Value::Int(i), Some(NativeType::BigInt)) => Ok(Some(CqlValue::BigInt(*i))),
        (Value::Int(i), Some(NativeType::Int)) => i32::try_from(*i)
            .map(|i| Some(CqlValue::Int(i)))
            .map_err(|_| ()),
        (Value::Int(i), Some(NativeType::SmallInt)) => i16::try_from(*i)
            .map(|i| Some(CqlValue::SmallInt(i)))
            .map_err(|_| ()),
        (Value::Int(i), Some(NativeType::TinyInt)) => i8::try_from(*i)
            .map(|i| Some(CqlValue::TinyInt(i)))
            .map_err(|_| ()),
        (Value::Int(i), Some(NativeType::Double)) => Ok(Some(CqlValue::Double(*i as f64))),
        (Value::Float(f), Some(NativeType::Double)) => Ok(Some(CqlValue::Double(*f))),
        (Value::Float(f), Some(NativeType::Float)) => fits(
            f.is_nan() || f.is_infinite() || f.abs() <= f64::from(f32::MAX),
            CqlValue::Float(*f as f32),
        ),
        (Value::Text(t), Some(NativeType::Text)) => Ok(Some(CqlValue::Text(t.clone()))),
        (Value::Text(t), Some(NativeType::Ascii)) => fits(t.is_ascii(), CqlValue::Ascii(t.clone())),
        (Value::Text(t), Some(NativeType::Inet)) => t
            .parse::<IpAddr>()
            .map(|ip| Some(CqlValue::Inet(ip)))
            .map_err(|_| ()),
        (Value::Bytes(b), Some(NativeType::Blob)) => Ok(Some(CqlValue::Blob(b.clone()))),
        _ => Err(()),
    };
    bound.map_err(|()| {
        let shown = match value {
            Value::Text(_) | Value::Bytes(_) => "a value of that kind".to_owned(),
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => value.display(),
        };
        format!(
            "cannot bind {shown} ({}) to a column of type {typ:?}",
            kind(value)
        )
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Int(_) => "integer",
        Value::Float(_) => "number",
        Value::Text(_) => "text",
        Value::Bytes(_) => "bytes",
    }
}

impl WideColumnSession for CassandraSession {
    fn engine(&self) -> Engine {
        Engine::Cassandra
    }

    fn run(&mut self, cql: &str, params: &[Value]) -> Result<Rows, DbError> {
        let runtime = runtime().map_err(|e| self.error(e))?;
        let session = Arc::clone(&self.session);
        let timeout = self.statement_timeout;
        let profile = self.profile.clone();
        let outcome = runtime.block_on(async move {
            let mut statement = Statement::new(cql);
            statement.set_request_timeout(timeout);
            if params.is_empty() {
                return session
                    .query_unpaged(statement, ())
                    .await
                    .map_err(|e| e.to_string());
            }
            let prepared = session
                .prepare(statement)
                .await
                .map_err(|e| e.to_string())?;
            let specs = prepared.get_variable_col_specs();
            if specs.len() != params.len() {
                return Err(format!(
                    "the statement has {} `?` but {} values were given",
                    specs.len(),
                    params.len()
                ));
            }
            let values = specs
                .iter()
                .zip(params)
                .map(|(spec, v)| bind(v, spec.typ()).map_err(|e| format!("`{}`: {e}", spec.name())))
                .collect::<Result<Vec<_>, _>>()?;
            session
                .execute_unpaged(&prepared, values)
                .await
                .map_err(|e| e.to_string())
        });
        let result = outcome.map_err(|message| DbError::Engine {
            profile,
            engine: "cassandra",
            message,
        })?;
        if !result.is_rows() {
            return Ok(Rows::default());
        }
        let rows = result
            .into_rows_result()
            .map_err(|e| self.error(e.to_string()))?;
        let columns = rows
            .column_specs()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let rows = rows
            .rows::<Row>()
            .map_err(|e| self.error(e.to_string()))?
            .map(|row| row.map(|r| r.columns.into_iter().map(value).collect()))
            .collect::<Result<Vec<Vec<Value>>, _>>()
            .map_err(|e| self.error(e.to_string()))?;
        Ok(Rows {
            columns,
            rows,
            affected: None,
        })
    }

    fn keyspaces(&mut self) -> Result<Vec<String>, DbError> {
        self.names("SELECT keyspace_name FROM system_schema.keyspaces", &[])
    }

    fn tables(&mut self, keyspace: Option<&str>) -> Result<Vec<String>, DbError> {
        let keyspace = self.keyspace_or(keyspace)?;
        self.names(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?",
            &[Value::Text(keyspace)],
        )
    }

    fn describe(&mut self, keyspace: Option<&str>, table: &str) -> Result<Option<Table>, DbError> {
        let keyspace = self.keyspace_or(keyspace)?;
        let rows = self.run(
            "SELECT column_name, type, kind, position FROM system_schema.columns \
             WHERE keyspace_name = ? AND table_name = ?",
            &[Value::Text(keyspace), Value::Text(table.to_owned())],
        )?;
        if rows.rows.is_empty() {
            return Ok(None);
        }
        // (kind order, position, name, type): the partition key first,
        // then the clustering columns, then the rest by name.
        let mut cells: Vec<(u8, i64, String, String)> = rows
            .rows
            .iter()
            .map(|r| {
                let text = |i: usize| r.get(i).and_then(Value::as_text).unwrap_or_default();
                let order = match text(2).as_str() {
                    "partition_key" => 0,
                    "clustering" => 1,
                    _ => 2,
                };
                let position = r.get(3).and_then(Value::as_i64).unwrap_or(0);
                (order, position, text(0), text(1))
            })
            .collect();
        cells.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
        Ok(Some(Table {
            name: table.to_owned(),
            primary_key: cells
                .iter()
                .filter(|c| c.0 < 2)
                .map(|c| c.2.clone())
                .collect(),
            columns: cells
                .into_iter()
                .map(|(order, _, name, data_type)| Column {
                    name,
                    data_type,
                    // A key column can never be null; any other can.
                    nullable: order == 2,
                    default: None,
                })
                .collect(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_hosts_user_and_keyspace() {
        assert_eq!(
            parse_url("cassandra://app@10.0.0.1,10.0.0.2:9142/shop").unwrap(),
            CassandraUrl {
                user: Some("app".into()),
                hosts: vec!["10.0.0.1:9042".into(), "10.0.0.2:9142".into()],
                keyspace: Some("shop".into()),
            }
        );
        assert_eq!(
            parse_url("cassandra://[::1]/").unwrap(),
            CassandraUrl {
                user: None,
                hosts: vec!["[::1]:9042".into()],
                keyspace: None,
            }
        );
        assert!(parse_url("cassandra://h:port/ks").is_err());
        assert!(parse_url("cassandra:///ks").is_err());
    }

    #[test]
    fn values_bind_to_the_type_the_server_asks_for() {
        let native = ColumnType::Native;
        assert_eq!(
            bind(&Value::Int(7), &native(NativeType::Int)),
            Ok(Some(CqlValue::Int(7)))
        );
        assert_eq!(
            bind(&Value::Int(7), &native(NativeType::BigInt)),
            Ok(Some(CqlValue::BigInt(7)))
        );
        assert!(bind(&Value::Int(1 << 40), &native(NativeType::Int)).is_err());
        assert_eq!(bind(&Value::Null, &native(NativeType::Text)), Ok(None));
        // A hostile string stays one text value, whatever it holds.
        let hostile = "x'); DROP TABLE users; --";
        assert_eq!(
            bind(&Value::Text(hostile.into()), &native(NativeType::Text)),
            Ok(Some(CqlValue::Text(hostile.into())))
        );
        let refused =
            bind(&Value::Text("secret-ish".into()), &native(NativeType::Int)).unwrap_err();
        assert!(!refused.contains("secret-ish"), "{refused}");
        assert_eq!(
            bind(&Value::Text("10.0.0.1".into()), &native(NativeType::Inet)),
            Ok(Some(CqlValue::Inet("10.0.0.1".parse().unwrap())))
        );
        assert!(bind(&Value::Text("é".into()), &native(NativeType::Ascii)).is_err());
    }

    #[test]
    fn cells_read_as_values() {
        assert_eq!(value(None), Value::Null);
        assert_eq!(value(Some(CqlValue::SmallInt(-3))), Value::Int(-3));
        assert_eq!(value(Some(CqlValue::Float(0.5))), Value::Float(0.5));
        assert_eq!(
            value(Some(CqlValue::Blob(vec![0, 255]))),
            Value::Bytes(vec![0, 255])
        );
        assert_eq!(
            value(Some(CqlValue::Inet("::1".parse().unwrap()))),
            Value::Text("::1".into())
        );
        assert_eq!(
            value(Some(CqlValue::Date(scylla::value::CqlDate(1 << 31)))),
            Value::Text("1970-01-01".into())
        );
        assert_eq!(
            value(Some(CqlValue::List(vec![
                CqlValue::Int(1),
                CqlValue::Int(2)
            ]))),
            Value::Text("[1,2]".into())
        );
    }
}
