//! The keys a project's configuration (`lord.toml`) may not set. A project
//! folder is often someone else's (a cloned repository), so nothing in it
//! may decide where lord sends a secret or which secret it sends, what lord
//! trusts or shares on the user's behalf, or what reaches the terminal:
//! each would turn `cd` into a cloned repository and running one command
//! into a leak. Those keys are the user's (or the machine's) alone.

/// Why a project's configuration may not set `key`, if it may not.
pub(crate) fn kept_from_projects(key: &str) -> Option<String> {
    const GUARDED: &[(&str, &str, &str)] = &[
        (
            "ai.profiles.",
            "AI profiles say where your secrets are sent",
            "lord ai add",
        ),
        (
            "db.profiles.",
            "database profiles say where your secrets are sent",
            "lord db add",
        ),
        (
            "monitor.notify.",
            "alert notifications say where lord sends mail and webhooks, and which secret it \
             logs in with",
            "lord config set --user",
        ),
        (
            "registry.require-pinned-root",
            "it decides whether lord trusts a registry on first contact",
            "lord config set --user",
        ),
        (
            "registry.share-usage",
            "sharing usage is your choice alone",
            "lord config set --user",
        ),
        (
            "analytics.enabled",
            "keeping a usage log is your choice alone",
            "lord config set --user",
        ),
        (
            "output.raw",
            "it lets plugins' control sequences reach your terminal",
            "lord config set --user, or --raw for one run",
        ),
        (
            "secrets.backend",
            "it decides where your secrets are kept",
            "lord config set --user",
        ),
    ];
    // `output.raw` guards `output.raw-plugins` too, by prefix.
    let (_, why, instead) = GUARDED.iter().find(|(p, ..)| key.starts_with(p))?;
    Some(format!(
        "may not be set by a project: {why}; set it in your own configuration (`{instead}`)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_decides_secrets_trust_sharing_or_the_terminal_is_kept_from_projects() {
        for key in [
            "ai.profiles.cloud.url",
            "db.profiles.shop.password-secret",
            "monitor.notify.email.server",
            "monitor.notify.email.password-secret",
            "monitor.notify.webhook.url",
            "registry.require-pinned-root",
            "registry.share-usage",
            "analytics.enabled",
            "output.raw",
            "output.raw-plugins",
            "secrets.backend",
        ] {
            assert!(kept_from_projects(key).is_some(), "{key}");
        }
        for key in [
            "log.level",
            "requires.hello",
            "plugins.notes.max",
            "monitor.alerts",
        ] {
            assert_eq!(kept_from_projects(key), None, "{key}");
        }
        let message = kept_from_projects("monitor.notify.email.server").expect("kept");
        assert!(
            message.contains("which secret it logs in with"),
            "{message}"
        );
    }
}
