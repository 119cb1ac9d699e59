//! The type `lord db copy --create` gives each column of the table it
//! makes: the type the source declares for the column, in the target
//! engine's words, when every value of the first batch reads as that type
//! exactly as the target would store it; otherwise the type of the values
//! themselves (integer, float, boolean, text or bytes).
//!
//! "Reads as" is strict on purpose. PostgreSQL's `numeric`, dates, times,
//! timestamps, `uuid` and JSON arrive as text, and the target's parser is
//! lenient in ways that lose data without a word (PostgreSQL's `date`
//! takes `2024-01-01 10:00` and drops the time; its `timestamp` drops an
//! offset) or refuses what the source allowed (`infinity`, BC dates and
//! `NaN` in MySQL, zero dates in PostgreSQL). So a declared type is used
//! only for values in the plain ISO forms every engine stores as they are;
//! anything else keeps the column as text, and the copy goes through as
//! it did before declared types were read. A SQLite column's declared type
//! is a hint its values need not follow, so a first batch of NULLs says
//! nothing there; on PostgreSQL and MySQL it holds for every row.

use lord_db_api::{DeclaredType, Engine, Value};

/// The SQL type `engine` gives a column declared `declared` on the source
/// (`enforced`: by an engine that holds every value to it), whose first
/// batch held `values`.
pub(super) fn sql(
    engine: Engine,
    declared: Option<DeclaredType>,
    enforced: bool,
    values: &[&Value],
) -> &'static str {
    let shape = values.iter().fold(Shape::Unknown, |s, v| s.with(v));
    let trusted = declared.filter(|&d| {
        if shape == Shape::Unknown {
            enforced
        } else {
            values.iter().all(|v| reads_as(d, engine, v))
        }
    });
    trusted
        .and_then(|d| declared_sql(d, shape, engine))
        .unwrap_or_else(|| shape.or_declared(trusted).sql(engine))
}

/// The values a column held, as far as its type goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Unknown,
    Bool,
    Int,
    Float,
    Text,
    Bytes,
}

impl Shape {
    /// A column whose first batch held only NULLs takes the plain type it
    /// was declared with, rather than text.
    fn or_declared(self, declared: Option<DeclaredType>) -> Self {
        match (self, declared) {
            (Shape::Unknown, Some(DeclaredType::Bool)) => Shape::Bool,
            (Shape::Unknown, Some(DeclaredType::Int)) => Shape::Int,
            (Shape::Unknown, Some(DeclaredType::Float)) => Shape::Float,
            (Shape::Unknown, Some(DeclaredType::Bytes)) => Shape::Bytes,
            (
                Shape::Unknown,
                None
                | Some(
                    DeclaredType::Decimal
                    | DeclaredType::Text
                    | DeclaredType::Date
                    | DeclaredType::Time
                    | DeclaredType::Timestamp
                    | DeclaredType::TimestampTz
                    | DeclaredType::Uuid
                    | DeclaredType::Json
                    | DeclaredType::Other,
                ),
            )
            | (Shape::Bool | Shape::Int | Shape::Float | Shape::Text | Shape::Bytes, _) => self,
        }
    }

    fn with(self, value: &Value) -> Self {
        let next = match value {
            Value::Null => return self,
            Value::Bool(_) => Shape::Bool,
            Value::Int(_) => Shape::Int,
            Value::Float(_) => Shape::Float,
            Value::Text(_) => Shape::Text,
            Value::Bytes(_) => Shape::Bytes,
        };
        match (self, next) {
            (Shape::Unknown, next) => next,
            (a, b) if a == b => a,
            (Shape::Int, Shape::Float) | (Shape::Float, Shape::Int) => Shape::Float,
            // Anything else mixed is kept as text.
            _ => Shape::Text,
        }
    }

    fn sql(self, engine: Engine) -> &'static str {
        match (self, engine) {
            (Shape::Bool, Engine::Sqlite | Engine::Postgres | Engine::Mysql) => "BOOLEAN",
            (Shape::Int, Engine::Sqlite) => "INTEGER",
            (Shape::Int, Engine::Postgres | Engine::Mysql) => "BIGINT",
            (Shape::Float, Engine::Sqlite) => "REAL",
            (Shape::Float, Engine::Postgres) => "DOUBLE PRECISION",
            (Shape::Float, Engine::Mysql) => "DOUBLE",
            (Shape::Unknown | Shape::Text, Engine::Sqlite | Engine::Postgres) => "TEXT",
            (Shape::Unknown | Shape::Text, Engine::Mysql) => "LONGTEXT",
            (Shape::Bytes, Engine::Sqlite) => "BLOB",
            (Shape::Bytes, Engine::Postgres) => "BYTEA",
            (Shape::Bytes, Engine::Mysql) => "LONGBLOB",
            // Only SQL profiles reach a plan (the pool refuses the others
            // a SQL session); CQL's names stand for the engines without SQL.
            (Shape::Bool, Engine::Redis | Engine::MongoDb | Engine::Cassandra) => "boolean",
            (Shape::Int, Engine::Redis | Engine::MongoDb | Engine::Cassandra) => "bigint",
            (Shape::Float, Engine::Redis | Engine::MongoDb | Engine::Cassandra) => "double",
            (Shape::Unknown | Shape::Text, Engine::Redis | Engine::MongoDb | Engine::Cassandra) => {
                "text"
            }
            (Shape::Bytes, Engine::Redis | Engine::MongoDb | Engine::Cassandra) => "blob",
        }
    }
}

/// The type `engine` gives a column declared `declared` whose values read
/// as it, for the types values alone cannot tell (they arrive as text):
/// `None` where the values' own type is as good, or the engine keeps the
/// values best as text.
fn declared_sql(declared: DeclaredType, shape: Shape, engine: Engine) -> Option<&'static str> {
    let numbers = matches!(shape, Shape::Int | Shape::Float);
    match (declared, engine) {
        (
            DeclaredType::Bool
            | DeclaredType::Int
            | DeclaredType::Float
            | DeclaredType::Text
            | DeclaredType::Bytes
            | DeclaredType::Other,
            _,
        )
        | (
            DeclaredType::Decimal
            | DeclaredType::Date
            | DeclaredType::Time
            | DeclaredType::Timestamp
            | DeclaredType::TimestampTz
            | DeclaredType::Uuid
            | DeclaredType::Json,
            Engine::Redis | Engine::MongoDb | Engine::Cassandra,
        ) => None,
        (DeclaredType::Decimal, Engine::Postgres) => Some("NUMERIC"),
        // The most digits MySQL keeps, thirty after the point, which
        // `reads_as` held the first batch to. A later value with more is
        // rounded by MySQL with only a note, as any DECIMAL column does.
        (DeclaredType::Decimal, Engine::Mysql) => Some("DECIMAL(65, 30)"),
        // SQLite has no exact decimal: NUMERIC affinity would turn the
        // text `0.10` into the float 0.1, so decimals held as text stay
        // text.
        (DeclaredType::Decimal, Engine::Sqlite) => numbers.then_some("NUMERIC"),
        (DeclaredType::Date, Engine::Sqlite | Engine::Postgres | Engine::Mysql) => Some("DATE"),
        (DeclaredType::Time, Engine::Sqlite | Engine::Postgres) => Some("TIME"),
        (DeclaredType::Time, Engine::Mysql) => Some("TIME(6)"),
        (DeclaredType::Timestamp, Engine::Sqlite | Engine::Postgres) => Some("TIMESTAMP"),
        (DeclaredType::Timestamp, Engine::Mysql) => Some("DATETIME(6)"),
        (DeclaredType::TimestampTz, Engine::Sqlite | Engine::Postgres) => Some("TIMESTAMPTZ"),
        // MySQL keeps no zone with a time: the offset stays in the text.
        (DeclaredType::TimestampTz, Engine::Mysql) => None,
        (DeclaredType::Uuid, Engine::Postgres) => Some("UUID"),
        (DeclaredType::Uuid, Engine::Mysql) => Some("CHAR(36)"),
        // `json`, not `jsonb`: the text is kept as it was written (key
        // order, spacing, repeated keys), which `jsonb` would normalise.
        (DeclaredType::Json, Engine::Postgres) => Some("JSON"),
        (DeclaredType::Json, Engine::Mysql) => Some("JSON"),
        (DeclaredType::Uuid | DeclaredType::Json, Engine::Sqlite) => None,
    }
}

/// Whether `value` reads as `declared` exactly as `engine` would store
/// it (NULL always does).
fn reads_as(declared: DeclaredType, engine: Engine, value: &Value) -> bool {
    let text = match value {
        Value::Null => return true,
        Value::Text(text) => Some(text.as_str()),
        Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Bytes(_) => None,
    };
    match declared {
        DeclaredType::Bool => matches!(value, Value::Bool(_)),
        DeclaredType::Int => matches!(value, Value::Int(_)),
        DeclaredType::Float => matches!(value, Value::Int(_) | Value::Float(_)),
        DeclaredType::Bytes => matches!(value, Value::Bytes(_)),
        DeclaredType::Text | DeclaredType::Other => text.is_some(),
        DeclaredType::Decimal => match value {
            Value::Int(_) => true,
            Value::Float(f) => f.is_finite(),
            Value::Null | Value::Bool(_) | Value::Bytes(_) | Value::Text(_) => {
                text.is_some_and(|t| decimal(t, engine))
            }
        },
        DeclaredType::Date => text.is_some_and(date),
        DeclaredType::Time => text.is_some_and(time),
        DeclaredType::Timestamp => text.is_some_and(timestamp),
        DeclaredType::TimestampTz => text.is_some_and(timestamp_tz),
        DeclaredType::Uuid => text.is_some_and(uuid),
        DeclaredType::Json => {
            text.is_some_and(|t| serde_json::from_str::<serde_json::Value>(t).is_ok())
        }
    }
}

/// `-12.50`: digits, a point and digits, no exponent, no `NaN`; on MySQL
/// within DECIMAL(65, 30).
fn decimal(text: &str, engine: Engine) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    let fits = match engine {
        Engine::Mysql => whole.len() <= 35 && fraction.len() <= 30,
        Engine::Sqlite | Engine::Postgres | Engine::Redis | Engine::MongoDb | Engine::Cassandra => {
            true
        }
    };
    !whole.is_empty()
        && digits(whole)
        && digits(fraction)
        && !(unsigned.contains('.') && fraction.is_empty())
        && fits
}

/// Whether `text` is `pattern` with each `9` a digit.
fn shaped(text: &str, pattern: &str) -> bool {
    text.len() == pattern.len()
        && text.bytes().zip(pattern.bytes()).all(|(t, p)| {
            if p == b'9' {
                t.is_ascii_digit()
            } else {
                t == p
            }
        })
}

/// The number `text[range]` spells, when it is within `allowed`.
fn within(
    text: &str,
    range: std::ops::Range<usize>,
    allowed: std::ops::RangeInclusive<u32>,
) -> bool {
    text.get(range)
        .and_then(|part| part.parse::<u32>().ok())
        .is_some_and(|n| allowed.contains(&n))
}

/// `2024-02-29`: a four-digit year from 1, a month, a day; no era, no
/// `infinity`, no zero date (MySQL's `0000-00-00`).
fn date(text: &str) -> bool {
    shaped(text, "9999-99-99")
        && within(text, 0..4, 1..=9999)
        && within(text, 5..7, 1..=12)
        && within(text, 8..10, 1..=31)
}

/// `23:59:59` with up to six digits of a second after a point; a time of
/// day, not MySQL's `838:59:59` interval.
fn time(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    shaped(whole, "99:99:99")
        && within(whole, 0..2, 0..=23)
        && within(whole, 3..5, 0..=59)
        && within(whole, 6..8, 0..=59)
        && (!text.contains('.') || (1..=6).contains(&fraction.len()))
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// A date, a space or `T`, a time; no offset.
fn timestamp(text: &str) -> bool {
    match (text.get(..10), text.get(10..11), text.get(11..)) {
        (Some(day), Some(" " | "T"), Some(at)) => date(day) && time(at),
        _ => false,
    }
}

/// A timestamp with an offset: `Z`, `+05`, `+05:30` or `+0530`.
fn timestamp_tz(text: &str) -> bool {
    if let Some(bare) = text.strip_suffix('Z') {
        return timestamp(bare);
    }
    let Some(at) = text.rfind(['+', '-']).filter(|&at| at > 10) else {
        return false;
    };
    let (stamp, offset) = text.split_at(at);
    let offset = offset.get(1..).unwrap_or_default();
    timestamp(stamp) && (shaped(offset, "99") || shaped(offset, "99:99") || shaped(offset, "9999"))
}

/// `a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11`.
fn uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use lord_db_api::{DeclaredType, Engine, Value};

    use super::sql;

    fn text(t: &str) -> Value {
        Value::Text(t.to_owned())
    }

    #[test]
    fn a_column_takes_its_declared_type_only_when_every_value_reads_as_it() {
        let pg = |d, values: &[Value]| {
            sql(
                Engine::Postgres,
                Some(d),
                true,
                &values.iter().collect::<Vec<_>>(),
            )
        };
        assert_eq!(pg(DeclaredType::Decimal, &[text("-0.000001")]), "NUMERIC");
        assert_eq!(pg(DeclaredType::Decimal, &[text("NaN")]), "TEXT");
        assert_eq!(pg(DeclaredType::Date, &[text("2024-02-29")]), "DATE");
        // PostgreSQL would take these and drop the time, or refuse them.
        assert_eq!(pg(DeclaredType::Date, &[text("2024-01-01 10:00")]), "TEXT");
        assert_eq!(pg(DeclaredType::Date, &[text("0044-03-15 BC")]), "TEXT");
        assert_eq!(pg(DeclaredType::Date, &[text("infinity")]), "TEXT");
        assert_eq!(pg(DeclaredType::Date, &[text("0000-00-00")]), "TEXT");
        assert_eq!(pg(DeclaredType::Date, &[text("2024-13-01")]), "TEXT");
        assert_eq!(
            pg(
                DeclaredType::Timestamp,
                &[text("2024-02-29 13:14:15.123456")]
            ),
            "TIMESTAMP"
        );
        // An offset would be dropped by `timestamp`.
        assert_eq!(
            pg(DeclaredType::Timestamp, &[text("2024-02-29 13:14:15+02")]),
            "TEXT"
        );
        assert_eq!(
            pg(
                DeclaredType::TimestampTz,
                &[text("2024-02-29 13:14:15+05:30")]
            ),
            "TIMESTAMPTZ"
        );
        assert_eq!(pg(DeclaredType::Time, &[text("23:59:59.999999")]), "TIME");
        assert_eq!(pg(DeclaredType::Time, &[text("838:59:59")]), "TEXT");
        assert_eq!(
            pg(
                DeclaredType::Uuid,
                &[text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")]
            ),
            "UUID"
        );
        assert_eq!(pg(DeclaredType::Json, &[text("{\"k\": [1]}")]), "JSON");
        assert_eq!(pg(DeclaredType::Json, &[text("{not json")]), "TEXT");
        // One value that does not read as it is enough.
        assert_eq!(
            pg(DeclaredType::Date, &[text("2024-02-29"), text("yesterday")]),
            "TEXT"
        );
        // All NULL: an engine that enforces its types is believed.
        assert_eq!(pg(DeclaredType::Date, &[Value::Null]), "DATE");
        assert_eq!(pg(DeclaredType::Int, &[Value::Null]), "BIGINT");
    }

    #[test]
    fn a_sqlite_columns_declared_type_needs_values_to_back_it() {
        let lite = |d, values: &[Value]| {
            sql(
                Engine::Postgres,
                Some(d),
                false,
                &values.iter().collect::<Vec<_>>(),
            )
        };
        assert_eq!(lite(DeclaredType::Int, &[Value::Null]), "TEXT");
        assert_eq!(lite(DeclaredType::Date, &[Value::Null]), "TEXT");
        assert_eq!(lite(DeclaredType::Date, &[text("2024-02-29")]), "DATE");
        assert_eq!(lite(DeclaredType::Date, &[Value::Int(20240229)]), "BIGINT");
    }

    #[test]
    fn mysql_takes_decimals_it_keeps_whole_and_sqlite_keeps_them_as_text() {
        let on = |engine, values: &[Value]| {
            sql(
                engine,
                Some(DeclaredType::Decimal),
                true,
                &values.iter().collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            on(Engine::Mysql, &[text("12345678901234.123456")]),
            "DECIMAL(65, 30)"
        );
        let long_fraction = format!("0.{}", "1".repeat(31));
        assert_eq!(on(Engine::Mysql, &[text(&long_fraction)]), "LONGTEXT");
        assert_eq!(on(Engine::Sqlite, &[text("0.10")]), "TEXT");
        assert_eq!(on(Engine::Sqlite, &[Value::Int(3)]), "NUMERIC");
    }
}
