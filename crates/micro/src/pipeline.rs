//! Pipelines: what to run, in what shape, and what to do when a step fails.
//! Written inline (`lord pipe 'trim | validate.email | upper'`) or as TOML.
//!
//! Inline grammar:
//!
//! ```text
//! pipeline := stage ('|' stage)*
//! stage    := call | parallel | cond
//! call     := ID ['?' | '??' ID]          `?` skips a failing step, `?? b` falls back to b
//! parallel := '[' pipeline (',' pipeline)+ ']'
//! cond     := 'if' ID 'then' pipeline ['else' pipeline] 'end'
//! ```
//!
//! TOML: a list of `[[step]]` tables, each with `use` (and optional
//! `on-error = "stop" | "skip" | { fallback = "ID" }`), or `parallel` (a list
//! of inline pipelines), or `if` with `then` and optional `else` (inline
//! pipelines).

use std::fmt;

use lord_manifest::MicroId;
use serde::Deserialize;

/// What happens when a step fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnError {
    /// The pipeline fails with the step's error (the default).
    Stop,
    /// The step's input passes through unchanged.
    Skip,
    /// The input goes to another micro-plugin instead.
    Fallback(MicroId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Call {
        id: MicroId,
        on_error: OnError,
    },
    /// Every branch gets the same input, concurrently; the join is a JSON
    /// array with one `{"ok": value}` or `{"error": reason}` per branch, in
    /// branch order, so one failing branch does not hide the others; an
    /// error also holds `"wrote"`, the last lines its handler logged or
    /// wrote to stderr, when it wrote any.
    Parallel {
        branches: Vec<Pipeline>,
    },
    /// Runs `then` if the validator `check` accepts the input, else
    /// `otherwise` (or passes the input through when there is none).
    If {
        check: MicroId,
        then: Pipeline,
        otherwise: Option<Pipeline>,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pipeline {
    pub steps: Vec<Step>,
}

/// A pipeline that could not be read; `column` is 1-based, in characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pipeline column {column}: {message}")]
pub struct PipelineError {
    pub column: usize,
    pub message: String,
}

impl Pipeline {
    /// A plain chain of calls that stop on error.
    pub fn chain(ids: impl IntoIterator<Item = MicroId>) -> Self {
        Self {
            steps: ids
                .into_iter()
                .map(|id| Step::Call {
                    id,
                    on_error: OnError::Stop,
                })
                .collect(),
        }
    }

    /// Parses the inline form.
    pub fn parse(text: &str) -> Result<Self, PipelineError> {
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, pos: 0 };
        let pipeline = parser.pipeline()?;
        match parser.peek() {
            None => Ok(pipeline),
            Some(token) => Err(token.error(format!("unexpected `{}`", token.text))),
        }
    }

    /// Parses the TOML form.
    pub fn from_toml(text: &str) -> Result<Self, PipelineError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            step: Vec<RawStep>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RawStep {
            #[serde(rename = "use")]
            call: Option<String>,
            #[serde(rename = "on-error")]
            on_error: Option<RawOnError>,
            parallel: Option<Vec<String>>,
            #[serde(rename = "if")]
            check: Option<String>,
            then: Option<String>,
            #[serde(rename = "else")]
            otherwise: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum RawOnError {
            Word(String),
            Fallback { fallback: String },
        }
        let file: File = toml::from_str(text).map_err(|e| PipelineError {
            column: e.span().map_or(1, |s| s.start + 1),
            message: e.message().to_owned(),
        })?;
        let id = |text: &str| {
            text.parse::<MicroId>().map_err(|e| PipelineError {
                column: 1,
                message: e.to_string(),
            })
        };
        let mut steps = Vec::new();
        for (n, raw) in file.step.into_iter().enumerate() {
            let which = format!("step {}", n + 1);
            let step = match (raw.call, raw.parallel, raw.check) {
                (Some(call), None, None) => Step::Call {
                    id: id(&call)?,
                    on_error: match raw.on_error {
                        None => OnError::Stop,
                        Some(RawOnError::Word(w)) if w == "stop" => OnError::Stop,
                        Some(RawOnError::Word(w)) if w == "skip" => OnError::Skip,
                        Some(RawOnError::Word(w)) => {
                            return Err(PipelineError {
                                column: 1,
                                message: format!(
                                    "{which}: on-error `{w}` is unknown; use \"stop\", \"skip\" or {{ fallback = \"ID\" }}"
                                ),
                            });
                        }
                        Some(RawOnError::Fallback { fallback }) => {
                            OnError::Fallback(id(&fallback)?)
                        }
                    },
                },
                (None, Some(branches), None) => Step::Parallel {
                    branches: branches
                        .iter()
                        .map(|b| Pipeline::parse(b))
                        .collect::<Result<_, _>>()?,
                },
                (None, None, Some(check)) => Step::If {
                    check: id(&check)?,
                    then: Pipeline::parse(raw.then.as_deref().ok_or_else(|| PipelineError {
                        column: 1,
                        message: format!("{which}: an `if` step needs `then`"),
                    })?)?,
                    otherwise: raw.otherwise.as_deref().map(Pipeline::parse).transpose()?,
                },
                _ => {
                    return Err(PipelineError {
                        column: 1,
                        message: format!("{which}: give exactly one of `use`, `parallel` or `if`"),
                    });
                }
            };
            steps.push(step);
        }
        Ok(Self { steps })
    }

    /// Every micro-plugin id the pipeline may call, in order of appearance.
    pub fn ids(&self) -> Vec<&MicroId> {
        let mut out = Vec::new();
        for step in &self.steps {
            match step {
                Step::Call { id, on_error } => {
                    out.push(id);
                    if let OnError::Fallback(f) = on_error {
                        out.push(f);
                    }
                }
                Step::Parallel { branches } => {
                    for b in branches {
                        out.extend(b.ids());
                    }
                }
                Step::If {
                    check,
                    then,
                    otherwise,
                } => {
                    out.push(check);
                    out.extend(then.ids());
                    if let Some(o) = otherwise {
                        out.extend(o.ids());
                    }
                }
            }
        }
        out
    }
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            match step {
                Step::Call { id, on_error } => match on_error {
                    OnError::Stop => write!(f, "{id}")?,
                    OnError::Skip => write!(f, "{id}?")?,
                    OnError::Fallback(other) => write!(f, "{id} ?? {other}")?,
                },
                Step::Parallel { branches } => {
                    f.write_str("[")?;
                    for (j, b) in branches.iter().enumerate() {
                        if j > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{b}")?;
                    }
                    f.write_str("]")?;
                }
                Step::If {
                    check,
                    then,
                    otherwise,
                } => {
                    write!(f, "if {check} then {then}")?;
                    if let Some(o) = otherwise {
                        write!(f, " else {o}")?;
                    }
                    f.write_str(" end")?;
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Token {
    text: String,
    column: usize,
}

impl Token {
    fn error(&self, message: String) -> PipelineError {
        PipelineError {
            column: self.column,
            message,
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, PipelineError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if matches!(c, '|' | '[' | ']' | ',') {
            tokens.push(Token {
                text: c.to_string(),
                column,
            });
            i += 1;
        } else if c == '?' {
            let double = chars.get(i + 1) == Some(&'?');
            tokens.push(Token {
                text: if double { "??" } else { "?" }.to_owned(),
                column,
            });
            i += if double { 2 } else { 1 };
        } else if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | '-'))
            {
                i += 1;
            }
            tokens.push(Token {
                text: chars[start..i].iter().collect(),
                column,
            });
        } else {
            return Err(PipelineError {
                column,
                message: format!(
                    "unexpected character `{c}`; a pipeline is micro-plugin ids joined by `|`, \
                     with `?`, `?? ID`, `[a, b]` and `if ID then ... else ... end`"
                ),
            });
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

const KEYWORDS: [&str; 4] = ["if", "then", "else", "end"];
const SYMBOLS: [&str; 6] = ["|", "[", "]", ",", "?", "??"];

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn end_column(&self) -> usize {
        self.tokens
            .last()
            .map_or(1, |t| t.column + t.text.chars().count())
    }

    fn expect(&mut self, text: &str) -> Result<(), PipelineError> {
        match self.next() {
            Some(t) if t.text == text => Ok(()),
            Some(t) => Err(t.error(format!("expected `{text}`, found `{}`", t.text))),
            None => Err(PipelineError {
                column: self.end_column(),
                message: format!("expected `{text}` before the end"),
            }),
        }
    }

    fn id(&mut self) -> Result<MicroId, PipelineError> {
        match self.next() {
            Some(t)
                if !KEYWORDS.contains(&t.text.as_str()) && !SYMBOLS.contains(&t.text.as_str()) =>
            {
                let text = t.text.clone();
                text.parse::<MicroId>().map_err(|e| t.error(e.to_string()))
            }
            Some(t) => Err(t.error(format!("expected a micro-plugin id, found `{}`", t.text))),
            None => Err(PipelineError {
                column: self.end_column(),
                message: "expected a micro-plugin id before the end".to_owned(),
            }),
        }
    }

    fn pipeline(&mut self) -> Result<Pipeline, PipelineError> {
        let mut steps = vec![self.stage()?];
        while self.peek().is_some_and(|t| t.text == "|") {
            self.pos += 1;
            steps.push(self.stage()?);
        }
        Ok(Pipeline { steps })
    }

    fn stage(&mut self) -> Result<Step, PipelineError> {
        match self.peek().map(|t| t.text.as_str()) {
            Some("[") => {
                self.pos += 1;
                let mut branches = vec![self.pipeline()?];
                while self.peek().is_some_and(|t| t.text == ",") {
                    self.pos += 1;
                    branches.push(self.pipeline()?);
                }
                self.expect("]")?;
                Ok(Step::Parallel { branches })
            }
            Some("if") => {
                self.pos += 1;
                let check = self.id()?;
                self.expect("then")?;
                let then = self.pipeline()?;
                let otherwise = if self.peek().is_some_and(|t| t.text == "else") {
                    self.pos += 1;
                    Some(self.pipeline()?)
                } else {
                    None
                };
                self.expect("end")?;
                Ok(Step::If {
                    check,
                    then,
                    otherwise,
                })
            }
            _ => {
                let id = self.id()?;
                let on_error = match self.peek().map(|t| t.text.as_str()) {
                    Some("?") => {
                        self.pos += 1;
                        OnError::Skip
                    }
                    Some("??") => {
                        self.pos += 1;
                        OnError::Fallback(self.id()?)
                    }
                    _ => OnError::Stop,
                };
                Ok(Step::Call { id, on_error })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&str, &str>) {
        let got = Pipeline::parse(input)
            .map(|p| p.to_string())
            .map_err(|e| e.to_string());
        assert_eq!(
            got,
            expected.map(str::to_owned).map_err(str::to_owned),
            "input {input:?}"
        );
    }

    #[test]
    fn inline_forms_round_trip() {
        check(
            "trim | validate.email | upper",
            Ok("trim | validate.email | upper"),
        );
        check("trim? | upper ?? lower", Ok("trim? | upper ?? lower"));
        check("[upper, lower | trim]", Ok("[upper, lower | trim]"));
        check(
            "if validate.email then upper else lower end | trim",
            Ok("if validate.email then upper else lower end | trim"),
        );
    }

    #[test]
    fn inline_errors_point_at_the_column() {
        check(
            "trim | | upper",
            Err("pipeline column 8: expected a micro-plugin id, found `|`"),
        );
        check(
            "trim | upper!",
            Err(
                "pipeline column 13: unexpected character `!`; a pipeline is micro-plugin ids joined by `|`, with `?`, `?? ID`, `[a, b]` and `if ID then ... else ... end`",
            ),
        );
        check(
            "if a then b",
            Err("pipeline column 12: expected `end` before the end"),
        );
        check(
            "[a, b",
            Err("pipeline column 6: expected `]` before the end"),
        );
    }

    #[test]
    fn toml_form() {
        let p = Pipeline::from_toml(
            r#"
[[step]]
use = "trim"
on-error = "skip"

[[step]]
parallel = ["upper", "lower | trim"]

[[step]]
if = "validate.email"
then = "upper"
else = "lower"

[[step]]
use = "slug"
on-error = { fallback = "lower" }
"#,
        )
        .expect("parses");
        assert_eq!(
            p.to_string(),
            "trim? | [upper, lower | trim] | if validate.email then upper else lower end | slug ?? lower"
        );
        let err =
            Pipeline::from_toml("[[step]]\nuse = \"a\"\nparallel = [\"b\"]\n").expect_err("both");
        assert!(err.message.contains("exactly one"), "{err}");
    }
}
