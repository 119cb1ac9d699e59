//! Canonical JSON as TUF signs it (securesystemslib's `encode_canonical`):
//! object keys sorted by code point, no whitespace, strings escaped only for
//! `"` and `\`, integers only. Hand-written rather than a crate because the
//! one crate for it (`olpc-cjson`) also normalises Unicode to NFC, which
//! securesystemslib does not: a role whose strings are not in NFC would then
//! fail to verify. The encoder is forty lines and is tested against bytes
//! python-tuf signed.

use serde_json::Value;

/// The canonical bytes of `value`, or why it has none (a float).
pub(crate) fn encode(value: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    write(value, &mut out)?;
    Ok(out)
}

fn write(value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(format!(
                    "{n} is not an integer; canonical JSON has no floats"
                ));
            }
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Sorted here, not by the map: serde_json may preserve order
            // when a crate elsewhere in the build enables `preserve_order`.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(key, out);
                out.push(b':');
                write(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push(b'\\');
        }
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn sorts_keys_escapes_only_quote_and_backslash_and_refuses_floats() {
        let value = serde_json::json!({"b": [1, -2, true, null], "a": "q\"\\\n\u{e9}", "": {}});
        let bytes = encode(&value).expect("canonical");
        assert_eq!(
            String::from_utf8(bytes).expect("utf-8"),
            "{\"\":{},\"a\":\"q\\\"\\\\\n\u{e9}\",\"b\":[1,-2,true,null]}"
        );
        assert!(encode(&serde_json::json!({"x": 1.5})).is_err());
    }
}
