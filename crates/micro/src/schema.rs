//! JSON Schemas of micro-plugins: compiled once at registration, checked at
//! the boundaries that need it, and compared between neighbours in a chain.

use jsonschema::Validator;
use lord_manifest::MicroId;
use serde_json::Value;

use crate::error::MicroError;

/// A schema and its compiled validator.
pub(crate) struct Schema {
    pub(crate) source: Value,
    validator: Validator,
}

impl Schema {
    pub(crate) fn compile(id: &MicroId, source: Option<Value>) -> Result<Option<Self>, MicroError> {
        let Some(source) = source else {
            return Ok(None);
        };
        let validator = jsonschema::validator_for(&source).map_err(|e| MicroError::BadSchema {
            id: id.clone(),
            reason: e.to_string(),
        })?;
        Ok(Some(Self { source, validator }))
    }

    /// The first violation, with where in the value it is.
    pub(crate) fn check(&self, value: &Value) -> Result<(), String> {
        self.validator.validate(value).map_err(|e| {
            let path = e.instance_path().to_string();
            if path.is_empty() {
                e.to_string()
            } else {
                format!("at `{path}`: {e}")
            }
        })
    }
}

/// Whether output shaped by `produced` can feed input shaped by `expected`.
/// Returns the first field that disagrees and how. This is a structural
/// comparison of the parts of JSON Schema that describe shape (`type`,
/// `required`, `properties`, `items`), not a full schema-subsumption proof:
/// it catches the mistakes people make when wiring a chain, and runtime
/// validation at the boundaries still catches the rest.
pub(crate) fn mismatch(produced: &Value, expected: &Value) -> Option<(String, String)> {
    mismatch_at("", produced, expected)
}

fn mismatch_at(path: &str, produced: &Value, expected: &Value) -> Option<(String, String)> {
    let field = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if let (Some(out), Some(inp)) = (types(produced), types(expected))
        && !out.iter().all(|t| inp.iter().any(|e| type_fits(t, e)))
    {
        let at = if path.is_empty() {
            "(the value)".to_owned()
        } else {
            path.to_owned()
        };
        return Some((
            at,
            format!(
                "produces type {} but the next step expects {}",
                out.join(" | "),
                inp.join(" | ")
            ),
        ));
    }
    let produced_props = produced.get("properties").and_then(Value::as_object);
    if let Some(required) = expected.get("required").and_then(Value::as_array) {
        let produced_required: Vec<&str> = produced
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for name in required.iter().filter_map(Value::as_str) {
            let declared = produced_props.is_some_and(|p| p.contains_key(name));
            if produced_props.is_some() && !declared && !produced_required.contains(&name) {
                return Some((
                    field(name),
                    "is required by the next step but not produced".to_owned(),
                ));
            }
        }
    }
    if let (Some(out_props), Some(in_props)) = (
        produced_props,
        expected.get("properties").and_then(Value::as_object),
    ) {
        for (name, in_schema) in in_props {
            if let Some(out_schema) = out_props.get(name)
                && let Some(found) = mismatch_at(&field(name), out_schema, in_schema)
            {
                return Some(found);
            }
        }
    }
    if let (Some(out_items), Some(in_items)) = (produced.get("items"), expected.get("items")) {
        return mismatch_at(&field("[]"), out_items, in_items);
    }
    None
}

fn types(schema: &Value) -> Option<Vec<String>> {
    match schema.get("type")? {
        Value::String(t) => Some(vec![t.clone()]),
        Value::Array(list) => Some(
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::Object(_) => None,
    }
}

fn type_fits(produced: &str, expected: &str) -> bool {
    produced == expected || (produced == "integer" && expected == "number")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::mismatch;

    #[test]
    fn compatible_shapes_pass() {
        assert_eq!(
            mismatch(&json!({"type": "string"}), &json!({"type": "string"})),
            None
        );
        assert_eq!(
            mismatch(&json!({"type": "integer"}), &json!({"type": "number"})),
            None
        );
        assert_eq!(mismatch(&json!({}), &json!({"type": "object"})), None);
    }

    #[test]
    fn a_type_clash_names_the_field() {
        let found = mismatch(
            &json!({"type": "object", "properties": {"email": {"type": "number"}}}),
            &json!({"type": "object", "properties": {"email": {"type": "string"}}}),
        );
        assert_eq!(
            found,
            Some((
                "email".to_owned(),
                "produces type number but the next step expects string".to_owned()
            ))
        );
    }

    #[test]
    fn a_missing_required_property_is_named() {
        let found = mismatch(
            &json!({"type": "object", "properties": {"name": {"type": "string"}}}),
            &json!({"type": "object", "required": ["email"]}),
        );
        assert_eq!(
            found,
            Some((
                "email".to_owned(),
                "is required by the next step but not produced".to_owned()
            ))
        );
    }
}
