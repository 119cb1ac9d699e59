//! `vault`: reads the `API_TOKEN` secret it was granted and reports only
//! its shape (length, character classes), the way a plugin that needs a
//! token should treat it.

use lord_pdk::{Command, Plugin, log, secrets};

struct Vault;

impl Plugin for Vault {
    fn run_command(_command: Command) -> Result<String, String> {
        let token = secrets::get("API_TOKEN")?;
        log::info("API_TOKEN read");
        let classes = [
            token.chars().any(|c| c.is_ascii_lowercase()),
            token.chars().any(|c| c.is_ascii_uppercase()),
            token.chars().any(|c| c.is_ascii_digit()),
        ];
        Ok(format!(
            "API_TOKEN is set: {} characters, {} of 3 character classes\n",
            token.chars().count(),
            classes.iter().filter(|c| **c).count()
        ))
    }
}

lord_pdk::export_plugin!(Vault);
