//! Values to and from PostgreSQL's binary format. A parameter is encoded
//! for the type the server inferred for its placeholder (so `--param 42`
//! binds to an `integer` column); a result is decoded by its column's type.
//! Text-shaped types (text, enums, JSON, XML) arrive as text; any other
//! type without a decoder here (intervals, arrays, ranges) is refused with
//! the way to read it: cast the column to `text` in the query.

use std::error::Error;

use lord_db_api::Value;
use postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

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
            _ if is_text(ty) => value.display().as_str().to_sql(&Type::TEXT, out),
            _ => Err(refuse(value, ty)),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
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
            Type::DATE => Value::Text(date(i64::from(i32::from_sql(ty, raw)?))),
            Type::TIMESTAMP => Value::Text(timestamp(i64::from_sql(ty, raw)?)),
            Type::TIMESTAMPTZ => Value::Text(format!("{}+00", timestamp(i64::from_sql(ty, raw)?))),
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

/// `YYYY-MM-DD` for days since 2000-01-01 (PostgreSQL's epoch), by Howard
/// Hinnant's civil-from-days.
fn date(days: i64) -> String {
    let z = days + 10_957 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` for microseconds since 2000-01-01.
fn timestamp(micros: i64) -> String {
    let day = micros.div_euclid(86_400_000_000);
    let rest = micros.rem_euclid(86_400_000_000);
    let (secs, frac) = (rest / 1_000_000, rest % 1_000_000);
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    let frac = if frac == 0 {
        String::new()
    } else {
        format!(".{frac:06}").trim_end_matches('0').to_owned()
    };
    format!("{} {time}{frac}", date(day))
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
        assert_eq!(date(0), "2000-01-01");
        assert_eq!(date(-1), "1999-12-31");
        assert_eq!(date(9_132), "2025-01-01");
        assert_eq!(
            timestamp(86_400_000_000 + 3_723_500_000),
            "2000-01-02 01:02:03.5"
        );
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
