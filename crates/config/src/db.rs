//! The shape of database profiles (`db.profiles.<name>.<field>`), checked
//! by the contract that defines them, so a URL carrying a password or an
//! unknown TLS mode is refused when it is written, not when a database is
//! first reached.

use serde_json::Value;

/// Checks `db.profiles.<name>.<field>`.
pub(crate) fn check_profile(key: &str, value: &Value) -> Result<(), String> {
    let rest = key.strip_prefix("db.profiles.").unwrap_or_default();
    lord_db_api::check_setting(rest, value)
}

/// Why a project's configuration may not set `key`, if it may not: a
/// project folder is someone else's, and one that set where an AI or
/// database profile sends its secret (or which secret it sends) would
/// exfiltrate it at the next use.
pub(crate) fn kept_from_projects(key: &str) -> Option<String> {
    let guarded = [
        ("ai.profiles.", "AI", "ai"),
        ("db.profiles.", "database", "db"),
    ];
    let (_, what, command) = guarded.iter().find(|(p, ..)| key.starts_with(p))?;
    Some(format!(
        "may not be set by a project: {what} profiles say where your secrets are sent; set \
         them in your own configuration (`lord {command} add`)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_url_with_a_password_is_refused_when_written() {
        let error = check_profile("db.profiles.shop.url", &Value::from("postgres://a:pw1@h/d"))
            .unwrap_err();
        assert!(
            error.contains("lord secret set DB_SHOP_PASSWORD"),
            "{error}"
        );
        assert!(!error.contains("pw1"), "{error}");
        assert!(check_profile("db.profiles.shop.url", &Value::from("postgres://a@h/d")).is_ok());
    }
}
