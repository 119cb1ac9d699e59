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
