//! Values to and from PostgreSQL. A parameter is encoded for the type the
//! server inferred for its placeholder (so `--param 42` binds to an
//! `integer` column): booleans, integers, floats, bytes, JSON and text in
//! the binary format; every other type (`numeric`, dates and times, `uuid`,
//! enums, intervals, arrays, ranges, and domains over them) in its text
//! form, which the server parses with the type's own input function, so a
//! value read as text from any engine (a `numeric` to the last digit, a
//! `timestamptz` with its offset) goes into such a column exactly, with no
//! cast in the query. A result is decoded by its column's type; `numeric`,
//! dates, times, intervals and UUIDs exactly, as text. Text-shaped types
//! (text, enums, JSON, XML) arrive as text; any other type without a
//! decoder here (arrays, ranges, geometry) is refused with the way to read
//! it: cast the column to `text` in the query.

use std::error::Error;

use lord_db_api::Value;
use postgres::types::{Format, FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

type Failure = Box<dyn Error + Sync + Send>;

/// A parameter, bound for the type its placeholder has.
#[derive(Debug)]
pub(crate) struct Param<'a>(pub(crate) &'a Value);

fn refuse(value: &Value, ty: &Type) -> Failure {
    format!(
        "cannot bind {} to a parameter of type `{ty}`; cast the placeholder in the query, like \
         `$1::text::{ty}`",
        kind(value)
    )
    .into()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Int(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Text(_) => "text",
        Value::Bytes(_) => "bytes",
    }
}

fn int(value: &Value, ty: &Type) -> Result<i64, Failure> {
    match value {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Text(t) => t.trim().parse().map_err(|_| refuse(value, ty)),
        Value::Null | Value::Float(_) | Value::Bytes(_) => Err(refuse(value, ty)),
    }
}

fn float(value: &Value, ty: &Type) -> Result<f64, Failure> {
    match value {
        Value::Float(f) => Ok(*f),
        #[expect(clippy::cast_precision_loss, reason = "as the engine would convert it")]
        Value::Int(i) => Ok(*i as f64),
        Value::Text(t) => t.trim().parse().map_err(|_| refuse(value, ty)),
        Value::Null | Value::Bool(_) | Value::Bytes(_) => Err(refuse(value, ty)),
    }
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Failure> {
        let value = self.0;
        if *value == Value::Null {
            return Ok(IsNull::Yes);
        }
        if let Kind::Domain(base) = ty.kind() {
            // A domain is received as its base type, then checked.
            return Param(value).to_sql(base, out);
        }
        if in_text_form(ty) {
            out.extend_from_slice(text_form(value).as_bytes());
            return Ok(IsNull::No);
        }
        match *ty {
            Type::BOOL => match value {
                Value::Bool(b) => b.to_sql(ty, out),
                Value::Int(i) => (*i != 0).to_sql(ty, out),
                Value::Text(t) => match t.to_ascii_lowercase().as_str() {
                    "true" | "t" | "1" | "yes" | "on" => true.to_sql(ty, out),
                    "false" | "f" | "0" | "no" | "off" => false.to_sql(ty, out),
                    _ => Err(refuse(value, ty)),
                },
                Value::Null | Value::Float(_) | Value::Bytes(_) => Err(refuse(value, ty)),
            },
            Type::INT2 => i16::try_from(int(value, ty)?)?.to_sql(ty, out),
            Type::INT4 => i32::try_from(int(value, ty)?)?.to_sql(ty, out),
            Type::INT8 => int(value, ty)?.to_sql(ty, out),
            Type::OID => u32::try_from(int(value, ty)?)?.to_sql(ty, out),
            #[expect(clippy::cast_possible_truncation, reason = "a float4 column rounds")]
            Type::FLOAT4 => (float(value, ty)? as f32).to_sql(ty, out),
            Type::FLOAT8 => float(value, ty)?.to_sql(ty, out),
            Type::BYTEA => match value {
                Value::Bytes(b) => b.as_slice().to_sql(ty, out),
                Value::Text(t) => t.as_bytes().to_sql(ty, out),
                Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                    Err(refuse(value, ty))
                }
            },
            Type::JSONB => {
                // Version 1 of jsonb's binary format, then the text.
                out.extend_from_slice(&[1]);
                out.extend_from_slice(value.display().as_bytes());
                Ok(IsNull::No)
            }
            Type::JSON => {
                out.extend_from_slice(value.display().as_bytes());
                Ok(IsNull::No)
            }
            // Only text-shaped types are left (`in_text_form`).
            _ => value.display().as_str().to_sql(&Type::TEXT, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, ty: &Type) -> Format {
        if in_text_form(ty) {
            Format::Text
        } else {
            Format::Binary
        }
    }

    to_sql_checked!();
}

/// Whether a parameter of type `ty` is sent in its text form: every type
/// without a binary encoder above, a domain as its base type.
fn in_text_form(ty: &Type) -> bool {
    if let Kind::Domain(base) = ty.kind() {
        return in_text_form(base);
    }
    !is_text(ty)
        && !matches!(
            *ty,
            Type::BOOL
                | Type::INT2
                | Type::INT4
                | Type::INT8
                | Type::OID
                | Type::FLOAT4
                | Type::FLOAT8
                | Type::BYTEA
                | Type::JSONB
                | Type::JSON
        )
}

/// A value as the text a type's input function reads: bytes that are
/// UTF-8 as that text (MySQL's text protocol), others as `\x…` hex.
fn text_form(value: &Value) -> String {
    if let Value::Bytes(b) = value
        && let Ok(text) = std::str::from_utf8(b)
    {
        return text.to_owned();
    }
    value.display()
}

fn is_text(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
    ) || ty.name() == "citext"
}

/// A result cell.
pub(crate) struct Cell(pub(crate) Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Failure> {
        Ok(Cell(match *ty {
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::OID => Value::Int(u32::from_sql(ty, raw)?.into()),
            Type::FLOAT4 => Value::Float(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Float(f64::from_sql(ty, raw)?),
            Type::BYTEA => Value::Bytes(raw.to_vec()),
            Type::JSONB => {
                Value::Text(String::from_utf8_lossy(raw.get(1..).unwrap_or_default()).into())
            }
            Type::UUID => Value::Text(uuid(raw)?),
            Type::DATE => Value::Text(match i32::from_sql(ty, raw)? {
                i32::MAX => "infinity".to_owned(),
                i32::MIN => "-infinity".to_owned(),
                days => era(date(days.into()), ""),
            }),
            Type::TIMESTAMP => Value::Text(timestamp(i64::from_sql(ty, raw)?, "")),
            Type::TIMESTAMPTZ => Value::Text(timestamp(i64::from_sql(ty, raw)?, "+00")),
            Type::TIME => Value::Text(time(i64::from_sql(ty, raw)?)),
            Type::TIMETZ => Value::Text(time_tz(raw)?),
            Type::INTERVAL => Value::Text(interval(raw)?),
            Type::NUMERIC => Value::Text(numeric(raw)?),
            Type::VOID => Value::Null,
            Type::JSON | Type::XML => Value::Text(String::from_utf8_lossy(raw).into_owned()),
            _ if is_text(ty) || matches!(ty.kind(), Kind::Enum(_)) => {
                Value::Text(String::from_utf8_lossy(raw).into_owned())
            }
            // Other binary formats (intervals, arrays, ranges, geometry)
            // would read as noise: say how to read them instead.
            _ => {
                return Err(format!(
                    "lord does not read the type `{ty}` yet; cast the column to text in the \
                     query (`column::text`)"
                )
                .into());
            }
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Failure> {
        Ok(Cell(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn uuid(raw: &[u8]) -> Result<String, Failure> {
    if raw.len() != 16 {
        return Err("a uuid is 16 bytes".into());
    }
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// `(year, month, day)` for days since 2000-01-01 (PostgreSQL's epoch), by
/// Howard Hinnant's civil-from-days; year 0 is 1 BC.
fn date(days: i64) -> (i64, i64, i64) {
    let z = days + 10_957 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD` then `rest`, as PostgreSQL writes and reads it: a year
/// before 1 AD with ` BC` after.
fn era((y, m, d): (i64, i64, i64), rest: &str) -> String {
    if y > 0 {
        format!("{y:04}-{m:02}-{d:02}{rest}")
    } else {
        format!("{:04}-{m:02}-{d:02}{rest} BC", 1 - y)
    }
}

/// `HH:MM:SS[.ffffff]` for microseconds (hours past 24 in an interval).
fn clock(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    let (secs, frac) = (micros / 1_000_000, micros % 1_000_000);
    let frac = if frac == 0 {
        String::new()
    } else {
        format!(".{frac:06}").trim_end_matches('0').to_owned()
    };
    format!(
        "{sign}{:02}:{:02}:{:02}{frac}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` then `zone`, for microseconds since
/// 2000-01-01.
fn timestamp(micros: i64, zone: &str) -> String {
    match micros {
        i64::MAX => "infinity".to_owned(),
        i64::MIN => "-infinity".to_owned(),
        _ => {
            let day = micros.div_euclid(86_400_000_000);
            let rest = micros.rem_euclid(86_400_000_000);
            era(date(day), &format!(" {}{zone}", clock(rest)))
        }
    }
}

/// A `time`: microseconds since midnight.
fn time(micros: i64) -> String {
    clock(micros)
}

/// A `timetz`: microseconds since midnight, then the zone's offset in
/// seconds west of UTC.
fn time_tz(raw: &[u8]) -> Result<String, Failure> {
    let (Some(micros), Some(west)) = (raw.get(..8), raw.get(8..12)) else {
        return Err("a timetz is 12 bytes".into());
    };
    let micros = i64::from_be_bytes(micros.try_into()?);
    let east = -i64::from(i32::from_be_bytes(west.try_into()?));
    let (sign, off) = (if east < 0 { '-' } else { '+' }, east.abs());
    let mut zone = format!("{sign}{:02}", off / 3600);
    if off % 3600 != 0 {
        zone.push_str(&format!(":{:02}", off / 60 % 60));
        if off % 60 != 0 {
            zone.push_str(&format!(":{:02}", off % 60));
        }
    }
    Ok(format!("{}{zone}", clock(micros)))
}

/// An `interval` as PostgreSQL writes it (`1 year 2 mons 3 days
/// 04:05:06.5`): microseconds, days, months.
fn interval(raw: &[u8]) -> Result<String, Failure> {
    let (Some(micros), Some(days), Some(months)) = (raw.get(..8), raw.get(8..12), raw.get(12..16))
    else {
        return Err("an interval is 16 bytes".into());
    };
    let micros = i64::from_be_bytes(micros.try_into()?);
    let days = i32::from_be_bytes(days.try_into()?);
    let months = i32::from_be_bytes(months.try_into()?);
    // A field after a negative one shows its `+`, as PostgreSQL's does.
    let (mut parts, mut after_negative) = (Vec::new(), false);
    for (n, unit) in [(months / 12, "year"), (months % 12, "mon"), (days, "day")] {
        if n != 0 {
            let plus = if after_negative && n > 0 { "+" } else { "" };
            let plural = if n == 1 { "" } else { "s" };
            parts.push(format!("{plus}{n} {unit}{plural}"));
            after_negative = n < 0;
        }
    }
    if micros != 0 || parts.is_empty() {
        let plus = if after_negative && micros > 0 {
            "+"
        } else {
            ""
        };
        parts.push(format!("{plus}{}", clock(micros)));
    }
    Ok(parts.join(" "))
}

/// A `numeric` in its exact decimal form: base-10000 digits with a weight
/// (the power of 10000 of the first), a sign and a display scale.
fn numeric(raw: &[u8]) -> Result<String, Failure> {
    let word = |i: usize| -> Result<i32, Failure> {
        let b = raw.get(2 * i..2 * i + 2).ok_or("a truncated numeric")?;
        Ok(i32::from(i16::from_be_bytes([b[0], b[1]])))
    };
    let (count, weight, sign, scale) = (word(0)?, word(1)?, word(2)? as u16, word(3)?);
    match sign {
        0xC000 => return Ok("NaN".to_owned()),
        0xD000 => return Ok("Infinity".to_owned()),
        0xF000 => return Ok("-Infinity".to_owned()),
        _ => {}
    }
    let digits = (0..usize::try_from(count)?)
        .map(|i| word(4 + i))
        .collect::<Result<Vec<i32>, _>>()?;
    let digit = |i: i32| -> i32 {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i).copied())
            .unwrap_or(0)
    };
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    if weight < 0 {
        out.push('0');
    } else {
        out.push_str(&digit(0).to_string());
        for i in 1..=weight {
            out.push_str(&format!("{:04}", digit(i)));
        }
    }
    if scale > 0 {
        let mut frac = String::new();
        let mut i = weight + 1;
        while frac.len() < usize::try_from(scale)? {
            frac.push_str(&format!("{:04}", digit(i)));
            i += 1;
        }
        frac.truncate(usize::try_from(scale)?);
        out.push('.');
        out.push_str(&frac);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_count_from_2000() {
        assert_eq!(era(date(0), ""), "2000-01-01");
        assert_eq!(era(date(-1), ""), "1999-12-31");
        assert_eq!(era(date(9_132), ""), "2025-01-01");
        assert_eq!(
            timestamp(86_400_000_000 + 3_723_500_000, ""),
            "2000-01-02 01:02:03.5"
        );
        assert_eq!(timestamp(i64::MAX, "+00"), "infinity");
        // 44 BC is year -43; PostgreSQL writes (and reads) it with ` BC`.
        assert_eq!(era(date(-746_117), ""), "0044-03-15 BC");
        assert_eq!(time(86_399_999_999), "23:59:59.999999");
    }

    #[test]
    fn zones_and_intervals_read_as_postgresql_writes_them() {
        let raw = |micros: i64, tail: &[i32]| -> Vec<u8> {
            let mut raw = micros.to_be_bytes().to_vec();
            for t in tail {
                raw.extend_from_slice(&t.to_be_bytes());
            }
            raw
        };
        // 01:02:03 at UTC+05:30 (stored as seconds west, -19800).
        assert_eq!(
            time_tz(&raw(3_723_000_000, &[-19_800])).unwrap(),
            "01:02:03+05:30"
        );
        assert_eq!(time_tz(&raw(0, &[3600])).unwrap(), "00:00:00-01");
        assert_eq!(
            interval(&raw(-3_723_500_000, &[3, 14])).unwrap(),
            "1 year 2 mons 3 days -01:02:03.5"
        );
        assert_eq!(interval(&raw(0, &[1, -1])).unwrap(), "-1 mons +1 day");
        assert_eq!(interval(&raw(0, &[0, 0])).unwrap(), "00:00:00");
    }

    #[test]
    fn types_without_a_binary_encoder_go_as_text() {
        for ty in [
            Type::NUMERIC,
            Type::DATE,
            Type::TIMESTAMPTZ,
            Type::TIME,
            Type::UUID,
            Type::INTERVAL,
            Type::INT4_ARRAY,
        ] {
            assert!(in_text_form(&ty), "{ty}");
        }
        for ty in [
            Type::INT8,
            Type::BYTEA,
            Type::TEXT,
            Type::JSONB,
            Type::UNKNOWN,
        ] {
            assert!(!in_text_form(&ty), "{ty}");
        }
        let mood = Type::new(
            "mood".into(),
            1,
            Kind::Enum(vec!["ok".into()]),
            "public".into(),
        );
        let money = Type::new(
            "amount".into(),
            2,
            Kind::Domain(Type::NUMERIC),
            "public".into(),
        );
        let small = Type::new("small".into(), 3, Kind::Domain(Type::INT2), "public".into());
        assert!(in_text_form(&mood) && in_text_form(&money) && !in_text_form(&small));
        let mut out = bytes::BytesMut::new();
        let exact = Value::Text("12345678901234.123456".into());
        Param(&exact).to_sql(&money, &mut out).unwrap();
        assert_eq!(&out[..], b"12345678901234.123456");
        out.clear();
        Param(&Value::Text("7".into()))
            .to_sql(&small, &mut out)
            .unwrap();
        assert_eq!(&out[..], 7_i16.to_be_bytes());
    }

    #[test]
    fn numerics_keep_every_digit() {
        // 12345.678: digits [1, 2345, 6780], weight 1, scale 3.
        let words: [i16; 7] = [3, 1, 0, 3, 1, 2345, 6780];
        let raw: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        assert_eq!(numeric(&raw).unwrap(), "12345.678");
        // -0.05: digits [500], weight -1, scale 2.
        let words: [i16; 5] = [1, -1, 0x4000, 2, 500];
        let raw: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
        assert_eq!(numeric(&raw).unwrap(), "-0.05");
    }
}
