//! `redact.secrets`: a hook that masks secrets in text output. Recognises
//! well-known token prefixes (GitHub, Slack, OpenAI-style, AWS access keys),
//! `Bearer` tokens, and the values of `password=`, `token:` and similar
//! assignments. Keeps the first four characters so a person can tell which
//! secret it was.

use lord_pdk::serde_json::json;
use lord_pdk::{Json, Micro, MicroContext};

struct Redact;

const PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "xoxb-",
    "xoxp-",
    "sk-",
    "AKIA",
    "ASIA",
    "glpat-",
];
const KEYS: &[&str] = &[
    "password", "passwd", "secret", "token", "api_key", "apikey", "api-key",
];

fn mask(word: &str) -> String {
    let shown: String = word.chars().take(4).collect();
    format!("{shown}****")
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '+' | '=')
}

fn redact_line(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    let mut mask_next = false;
    while !rest.is_empty() {
        let start = rest.find(|c: char| is_token_char(c)).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        if word.is_empty() {
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if mask_next && word.len() >= 8 {
            out.push_str(&mask(word));
            mask_next = false;
        } else if PREFIXES
            .iter()
            .any(|p| word.starts_with(p) && word.len() >= p.len() + 8)
        {
            out.push_str(&mask(word));
        } else if let Some((key, value)) = word.split_once('=')
            && KEYS.iter().any(|k| key.to_ascii_lowercase().ends_with(k))
            && !value.is_empty()
        {
            out.push_str(key);
            out.push('=');
            out.push_str(&mask(value));
        } else {
            mask_next = lower == "bearer"
                || KEYS
                    .iter()
                    .any(|k| lower.trim_end_matches(':').ends_with(k) && rest.starts_with(':'));
            out.push_str(word);
        }
    }
    out
}

impl Micro for Redact {
    fn execute(ctx: &MicroContext, input: Json) -> Result<Json, String> {
        if ctx.id != "redact.secrets" {
            return Err(format!("micro-redact has no micro-plugin `{}`", ctx.id));
        }
        let text = input.as_str().ok_or("expected a JSON string")?;
        let redacted: Vec<String> = text.split('\n').map(redact_line).collect();
        Ok(json!(redacted.join("\n")))
    }
}

lord_pdk::export_micro!(Redact);
