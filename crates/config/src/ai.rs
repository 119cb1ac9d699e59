//! The shape of AI profiles (`ai.profiles.<name>.<field>`): what lord's
//! AI commands and the `ai(NAME)` grant read. Checked here with the rest
//! of lord's keys so a wrong profile is refused when it is written, not
//! when a model is first asked.

use serde_json::Value;

/// The shape of an AI profile's name: what `ai(NAME)` can grant.
pub(crate) fn is_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The kinds of AI service a profile may name (`lord_ai::Kind`; this
/// crate depends on nothing of lord's).
const AI_KINDS: &[&str] = &["openai", "anthropic", "ollama", "huggingface", "gemini"];

/// Checks `ai.profiles.<name>.<field>`. Keys reach a service only through
/// `lord secret`: a URL that carries one (a password, a `key=` query) is
/// refused with the way to store it instead.
pub(crate) fn check_profile(key: &str, value: &Value) -> Result<(), String> {
    let rest = key.strip_prefix("ai.profiles.").unwrap_or_default();
    let Some((name, field)) = rest.split_once('.').filter(|(n, _)| is_profile_name(n)) else {
        return Err(
            "is not an AI profile's setting; write `ai.profiles.<name>.<field>` with a name of \
             `a-z`, `0-9`, `-` and `_`"
                .to_owned(),
        );
    };
    let text = value.as_str();
    match field {
        "kind" => match text {
            Some(kind) if AI_KINDS.contains(&kind) => Ok(()),
            _ => Err(format!(
                "must be one of {}; got {value}",
                AI_KINDS.join(", ")
            )),
        },
        "url" => {
            let Some(url) = text.filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            else {
                return Err(crate::layers::not_a_web_url(value));
            };
            let authority = url.split("://").nth(1).unwrap_or_default();
            let authority = authority.split(['/', '?', '#']).next().unwrap_or_default();
            let query = url.split_once('?').map(|(_, q)| q.to_ascii_lowercase());
            let keyed = query.is_some_and(|q| {
                q.split('&').any(|pair| {
                    ["key=", "api_key=", "apikey=", "token="]
                        .iter()
                        .any(|k| pair.starts_with(k))
                })
            });
            if authority.contains('@') || keyed {
                let secret = format!("AI_{}_KEY", name.to_ascii_uppercase().replace('-', "_"));
                Err(format!(
                    "must not carry a key or password; store the key with `lord secret set \
                     {secret}` (lord sends it in a header) and give the URL without it"
                ))
            } else {
                Ok(())
            }
        }
        "model" => match text {
            Some(model) if !model.is_empty() => Ok(()),
            _ => Err(format!("must be a model's name; got {value}")),
        },
        "key-secret" => match text {
            Some(secret)
                if !secret.is_empty()
                    && !secret.starts_with(|c: char| c.is_ascii_digit())
                    && secret
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') =>
            {
                Ok(())
            }
            _ => Err(
                "must name a `lord secret` (`A-Z`, `0-9` and `_`), never hold the key itself; \
                 got a value that is not a secret's name"
                    .to_owned(),
            ),
        },
        "max-tokens" => match value.as_u64() {
            Some(1..=1_000_000) => Ok(()),
            _ => Err(format!(
                "must be a whole number from 1 to 1000000; got {value}"
            )),
        },
        _ => Err(
            "is not an AI profile's setting; known: kind, url, model, key-secret, max-tokens"
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_carrying_a_key_is_refused_with_the_secret_to_store_it_in() {
        let url = |u: &str| check_profile("ai.profiles.my-llm.url", &Value::from(u));
        assert!(url("http://127.0.0.1:8080/v1").is_ok());
        let error = url("https://x.example/v1?key=abc").unwrap_err();
        assert!(error.contains("lord secret set AI_MY_LLM_KEY"), "{error}");
        assert!(url("https://user:pw@x.example/v1").is_err());
        // What is not a web URL is named by its scheme alone: the rest may
        // be a password.
        let error = url("ftp://user:hunter2@x.example/").unwrap_err();
        assert!(
            error.ends_with("got a `ftp://` URL") && !error.contains("hunter2"),
            "{error}"
        );
        assert!(check_profile("ai.profiles.a.kind", &Value::from("gemini")).is_ok());
        assert!(check_profile("ai.profiles.a.kind", &Value::from("bard")).is_err());
        assert!(check_profile("ai.profiles.a.key-secret", &Value::from("sk-123")).is_err());
        assert!(check_profile("ai.profiles.A.kind", &Value::from("openai")).is_err());
    }
}
