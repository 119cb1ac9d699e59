//! Generated cases: security cases for every plugin (malformed, oversized
//! and flooding inputs; every declared case again with each requested
//! permission withheld) and property cases from each micro-plugin's input
//! schema, with a seeded generator so a failing run can be repeated.

use super::*;
use crate::harness::report::truncate;

impl Harness {
    /// Everything the plugin can be called through.
    pub(crate) fn targets(&self) -> Vec<Callable> {
        let mut out: Vec<Callable> = self
            .manifest
            .commands
            .iter()
            .map(|c| Callable::Command {
                name: c.name.as_str().to_owned(),
                args: c.args.iter().map(|a| a.name.as_str().to_owned()).collect(),
            })
            .collect();
        out.extend(self.manifest.micro.iter().map(|m| Callable::Micro {
            id: m.id.as_str().to_owned(),
            input_schema: m.input_schema.clone(),
            output_schema: m.output_schema.clone(),
        }));
        out
    }

    pub(super) fn security_cases(&self, declared: &[TestCase]) -> Vec<Generated> {
        let mut out = Vec::new();
        let output_limit = self.manifest.limits.max_output_bytes();
        for target in self.targets() {
            let label = target.label();
            out.push(Generated {
                name: format!("{label} survives malformed input"),
                case: target.case_with(
                    &[
                        "\u{0}\u{1b}[2J\u{202e}'; DROP TABLE x; --\u{7f}",
                        "{\"unclosed\": [",
                        "\u{fffd}\u{10ffff}",
                    ],
                    true,
                ),
                kind: SecurityKind::Contained,
                withheld: None,
            });
            out.push(Generated {
                name: format!("{label} survives a 1 MiB input"),
                case: target.case_with(&[&"x".repeat(1 << 20)], false),
                kind: SecurityKind::Contained,
                withheld: None,
            });
            let flood = usize::try_from(output_limit)
                .unwrap_or(usize::MAX)
                .saturating_add(4096);
            out.push(Generated {
                name: format!("{label} cannot flood past its output budget"),
                case: target.case_with(&[&"y".repeat(flood)], false),
                kind: SecurityKind::Flood(output_limit),
                withheld: None,
            });
        }
        // Each requested permission withheld in turn, over every declared
        // unit case (or, with none, one plain call per target).
        let mut runs: Vec<TestCase> = declared
            .iter()
            .filter(|c| c.kind == CaseKind::Unit && c.grants.is_none())
            .cloned()
            .collect();
        if runs.is_empty() {
            runs = self
                .targets()
                .iter()
                .map(|t| t.case_with(&["sample"], false))
                .collect();
        }
        for permission in &self.manifest.permissions {
            for case in &runs {
                out.push(Generated {
                    name: format!("`{}` without {permission}", case.name),
                    case: case.clone(),
                    kind: SecurityKind::Contained,
                    withheld: Some(permission.clone()),
                });
            }
        }
        out
    }

    pub(super) async fn run_security(&mut self, generated: &Generated) -> CaseResult {
        let started = Instant::now();
        let outcome = match self.security_outcome(generated).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Failed(e.to_string()),
        };
        CaseResult {
            suite: Suite::Security,
            name: generated.name.clone(),
            outcome,
            took: started.elapsed(),
            perf: None,
        }
    }

    pub(super) async fn security_outcome(
        &mut self,
        generated: &Generated,
    ) -> Result<Outcome, DevkitError> {
        let grants: Vec<Permission> = self
            .manifest
            .permissions
            .iter()
            .filter(|p| Some(*p) != generated.withheld.as_ref())
            .cloned()
            .collect();
        let probe = match self.install_with(&grants).await {
            Ok(()) => self.call(&generated.case).await,
            Err(e) => Err(e),
        };
        let probe = match probe {
            Ok(probe) => probe,
            // Without any grant of a family whose interface the component
            // imports, the host refuses to link it at all: contained.
            Err(DevkitError::Host(lord_host::HostError::Sandbox(
                lord_sandbox::SandboxError::Contract { .. },
            ))) if generated.withheld.is_some() => return Ok(Outcome::Passed),
            Err(e) => return Err(e),
        };
        if let Some(reason) = crashed(&probe.outcome) {
            return Ok(Outcome::Failed(probe.explain(reason)));
        }
        if let Some(withheld) = &generated.withheld {
            let wrong: Vec<String> = probe
                .denials
                .iter()
                .filter(|d| {
                    d.needs
                        .as_deref()
                        .is_some_and(|n| n != withheld.to_string())
                })
                .map(|d| d.access.clone())
                .collect();
            if !wrong.is_empty() {
                return Ok(Outcome::Failed(format!(
                    "with only {withheld} withheld, the host also refused: {}",
                    wrong.join(", ")
                )));
            }
        }
        match generated.kind {
            SecurityKind::Contained => Ok(Outcome::Passed),
            SecurityKind::Flood(limit) => {
                let written = probe.output_bytes as u64
                    + probe.outcome.as_ref().map_or(0, |text| text.len() as u64);
                if written > limit {
                    Ok(Outcome::Failed(format!(
                        "it wrote {written} bytes past a {limit}-byte output budget"
                    )))
                } else {
                    Ok(Outcome::Passed)
                }
            }
        }
    }

    pub(super) async fn run_property(
        &mut self,
        target: &Callable,
        name: &str,
        options: &HarnessOptions,
    ) -> CaseResult {
        let started = Instant::now();
        let outcome = match self.property_outcome(target, options).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Failed(e.to_string()),
        };
        CaseResult {
            suite: Suite::Property,
            name: name.to_owned(),
            outcome,
            took: started.elapsed(),
            perf: None,
        }
    }

    pub(super) async fn property_outcome(
        &mut self,
        target: &Callable,
        options: &HarnessOptions,
    ) -> Result<Outcome, DevkitError> {
        let grants = self.manifest.permissions.clone();
        self.install_with(&grants).await?;
        let mut rng = Rng::new(options.seed ^ hash(&target.label()));
        for run in 0..options.property_runs {
            let (case, shown) = match target {
                Callable::Command { args, .. } => {
                    let values: Vec<String> = args.iter().map(|_| rng.text(40)).collect();
                    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                    (target.case_with(&refs, false), format!("{values:?}"))
                }
                Callable::Micro { input_schema, .. } => {
                    let input = rng.value(input_schema.as_ref().unwrap_or(&Value::Null), 0);
                    let mut case = target.case_with(&[], false);
                    case.input = Some(input.clone());
                    (case, input.to_string())
                }
            };
            let probe = self.call(&case).await?;
            if let Some(reason) = crashed(&probe.outcome) {
                return Ok(Outcome::Failed(
                    probe.explain(format!("input #{run} {}: {reason}", clip(&shown))),
                ));
            }
            if let (
                Callable::Micro {
                    output_schema: Some(schema),
                    ..
                },
                Ok(text),
            ) = (target, &probe.outcome)
            {
                let output: Value = match serde_json::from_str(text) {
                    Ok(v) => v,
                    Err(e) => {
                        return Ok(Outcome::Failed(format!(
                            "input #{run} {}: the output {} is not JSON: {e}",
                            clip(&shown),
                            clip(text)
                        )));
                    }
                };
                if let Err(problem) = check_schema(schema, &output) {
                    return Ok(Outcome::Failed(format!(
                        "input #{run} {}: the output {} breaks the output schema: {problem}",
                        clip(&shown),
                        clip(text)
                    )));
                }
            }
        }
        Ok(Outcome::Passed)
    }
}

pub(super) fn clip(text: &str) -> String {
    truncate(text, 80)
}

pub(super) fn check_schema(schema: &Value, value: &Value) -> Result<(), String> {
    let validator =
        jsonschema::validator_for(schema).map_err(|e| format!("the schema is invalid: {e}"))?;
    match validator.iter_errors(value).next() {
        Some(error) => Err(error.to_string()),
        None => Ok(()),
    }
}

/// The call result as a case judges it.
pub(super) fn as_result(outcome: &Result<String, Failure>) -> Result<String, String> {
    outcome.clone().map_err(|failure| failure.to_string())
}

/// Why an outcome counts as the plugin falling over rather than failing
/// cleanly: a crash, a hang or runaway recursion. Refusals, the plugin's
/// own errors and the host's memory and output limits are clean.
pub(super) fn crashed(outcome: &Result<String, Failure>) -> Option<String> {
    match outcome {
        Ok(_) => None,
        Err(failure) => match failure {
            Failure::Trap { .. }
            | Failure::TimeLimit { .. }
            | Failure::StackLimit
            | Failure::Poisoned => Some(format!("the plugin {failure}")),
            Failure::Setup { .. } => Some(format!("the host could not run it: {failure}")),
            Failure::MemoryLimit { .. }
            | Failure::OutputLimit { .. }
            | Failure::HandleLimit { .. }
            | Failure::Denied { .. }
            | Failure::Returned { .. } => None,
        },
    }
}

/// What a generated security case checks beyond "did not crash".
#[derive(Debug, Clone, Copy)]
pub(super) enum SecurityKind {
    Contained,
    /// Output stays within this many bytes.
    Flood(u64),
}

#[derive(Debug, Clone)]
pub(super) struct Generated {
    pub(super) name: String,
    case: TestCase,
    kind: SecurityKind,
    withheld: Option<Permission>,
}

/// A way into the plugin.
#[derive(Debug, Clone)]
pub(crate) enum Callable {
    Command {
        name: String,
        args: Vec<String>,
    },
    Micro {
        id: String,
        input_schema: Option<Value>,
        output_schema: Option<Value>,
    },
}

impl Callable {
    pub(crate) fn label(&self) -> String {
        match self {
            Callable::Command { name, .. } => format!("command `{name}`"),
            Callable::Micro { id, .. } => format!("micro-plugin `{id}`"),
        }
    }

    /// A case calling this target with `values`: each argument of a command
    /// gets the values in turn (or all of them, with `every`); a
    /// micro-plugin gets the first as a JSON string, or with `every` the
    /// raw text of each joined (deliberately not JSON).
    pub(crate) fn case_with(&self, values: &[&str], every: bool) -> TestCase {
        match self {
            Callable::Command { name, args } => {
                let mut map = BTreeMap::new();
                for (i, arg) in args.iter().enumerate() {
                    let chosen: Vec<String> = if every {
                        values.iter().map(|v| (*v).to_owned()).collect()
                    } else {
                        values
                            .get(i % values.len().max(1))
                            .map(|v| vec![(*v).to_owned()])
                            .unwrap_or_default()
                    };
                    map.insert(arg.clone(), chosen);
                }
                TestCase::command("generated", name, map)
            }
            Callable::Micro { id, .. } => {
                let input = if every {
                    // Not JSON at all: the guest's own parser must cope.
                    Value::String(values.join(""))
                } else {
                    values
                        .first()
                        .map_or(Value::Null, |v| Value::String((*v).to_owned()))
                };
                TestCase::micro("generated", id, input)
            }
        }
    }
}

pub(super) fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A small, seeded generator (xorshift64*): the same seed gives the same
/// inputs, so a failure names an input that reproduces.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    /// A stream for `seed`. The seed is mixed (SplitMix64, a bijection)
    /// rather than forced odd, so seeds that differ only in their lowest
    /// bit give different inputs; xorshift needs a state that is not 0.
    pub(super) fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Self(if z == 0 { 0x9e37_79b9_7f4a_7c15 } else { z })
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// Text mixing ASCII, white space, digits, accents, CJK and emoji.
    pub(super) fn text(&mut self, max: u64) -> String {
        const POOL: &[&str] = &[
            "a", "Z", " ", "  ", "\t", "\n", "7", "-", "é", "ß", "中", "😀", "\"", "\\", "<", "{",
            ".",
        ];
        let len = self.below(max + 1);
        (0..len)
            .map(|_| POOL[usize::try_from(self.below(POOL.len() as u64)).unwrap_or(0)])
            .collect()
    }

    /// A value that fits `schema` (the common keywords: type, enum, const,
    /// min/max lengths and values, items, properties, required, anyOf and
    /// oneOf). An empty or unknown schema gives any JSON.
    pub(super) fn value(&mut self, schema: &Value, depth: u32) -> Value {
        if let Some(value) = schema.get("const") {
            return value.clone();
        }
        if let Some(choices) = schema
            .get("enum")
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty())
        {
            let at = usize::try_from(self.below(choices.len() as u64)).unwrap_or(0);
            return choices[at].clone();
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(options) = schema
                .get(key)
                .and_then(Value::as_array)
                .filter(|o| !o.is_empty())
            {
                let at = usize::try_from(self.below(options.len() as u64)).unwrap_or(0);
                return self.value(&options[at], depth);
            }
        }
        let ty = match schema.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(types)) if !types.is_empty() => {
                let at = usize::try_from(self.below(types.len() as u64)).unwrap_or(0);
                types[at].as_str().unwrap_or("null").to_owned()
            }
            Some(_) | None => ["string", "integer", "boolean", "null", "array", "object"]
                [usize::try_from(self.below(if depth > 2 { 4 } else { 6 })).unwrap_or(0)]
            .to_owned(),
        };
        let num = |key: &str| schema.get(key).and_then(Value::as_i64);
        match ty.as_str() {
            "string" => {
                let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
                let max = schema
                    .get("maxLength")
                    .and_then(Value::as_u64)
                    .unwrap_or(64)
                    .min(256)
                    .max(min);
                let mut text = self.text(max);
                while (text.chars().count() as u64) < min {
                    text.push('a');
                }
                let text: String = text
                    .chars()
                    .take(usize::try_from(max).unwrap_or(256))
                    .collect();
                Value::String(text)
            }
            "integer" | "number" => {
                let low = num("minimum").unwrap_or(-1_000_000);
                let high = num("maximum").unwrap_or(1_000_000).max(low);
                let span = u64::try_from(high.saturating_sub(low))
                    .unwrap_or(u64::MAX)
                    .saturating_add(1);
                let n = low.saturating_add(i64::try_from(self.below(span)).unwrap_or(0));
                Value::from(n)
            }
            "boolean" => Value::Bool(self.below(2) == 1),
            "array" => {
                let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                let max = schema
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(5)
                    .min(16)
                    .max(min);
                let len = min + self.below(max - min + 1);
                let items = schema.get("items").cloned().unwrap_or(Value::Null);
                Value::Array((0..len).map(|_| self.value(&items, depth + 1)).collect())
            }
            "object" => {
                let mut map = serde_json::Map::new();
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                    for (key, sub) in props {
                        if required.contains(&key.as_str()) || self.below(2) == 1 {
                            map.insert(key.clone(), self.value(sub, depth + 1));
                        }
                    }
                }
                Value::Object(map)
            }
            _ => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_fit_their_schema() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "name": { "type": "string", "minLength": 2, "maxLength": 5 },
                "n": { "type": "integer", "minimum": 3, "maximum": 9 },
                "tags": { "type": "array", "items": { "enum": ["a", "b"] }, "maxItems": 3 },
                "mode": { "const": "fast" }
            },
            "required": ["name", "n"]
        });
        let mut rng = Rng::new(7);
        for _ in 0..200 {
            let value = rng.value(&schema, 0);
            check_schema(&schema, &value).unwrap_or_else(|e| panic!("{value}: {e}"));
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_inputs() {
        let schema = serde_json::json!({ "type": "string" });
        let a: Vec<Value> = {
            let mut r = Rng::new(42);
            (0..10).map(|_| r.value(&schema, 0)).collect()
        };
        let b: Vec<Value> = {
            let mut r = Rng::new(42);
            (0..10).map(|_| r.value(&schema, 0)).collect()
        };
        assert_eq!(a, b);
    }

    /// Seeds one bit apart (the default `0x5eed` and `0x5eec`, or 0 and 1)
    /// give different streams.
    #[test]
    fn neighbouring_seeds_give_different_inputs() {
        for (x, y) in [(0x5eed, 0x5eec), (0, 1)] {
            let (mut a, mut b) = (Rng::new(x), Rng::new(y));
            let a: Vec<u64> = (0..4).map(|_| a.next()).collect();
            let b: Vec<u64> = (0..4).map(|_| b.next()).collect();
            assert_ne!(a, b, "{x:#x} and {y:#x}");
        }
    }
}
