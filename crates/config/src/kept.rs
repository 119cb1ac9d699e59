//! The keys a project's configuration (`lord.toml`) may not set. A project
//! folder is often someone else's (a cloned repository), so nothing in it
//! may decide where lord sends a secret or which secret it sends, what lord
//! trusts or shares on the user's behalf, or what reaches the terminal:
//! each would turn `cd` into a cloned repository and running one command
//! into a leak. Nor may it set what bounds a plugin (its quotas, its share
//! of the event log, the size of what it shares or sends, which handler
//! answers for a micro-plugin id): a plugin
//! granted `fs-write($PROJECT)` can write `lord.toml`, and would raise its
//! own limits. Those keys are the user's (or the machine's) alone.

/// Why a project's configuration may not set `key`, if it may not.
pub(crate) fn kept_from_projects(key: &str) -> Option<String> {
    const GUARDED: &[(&str, &str, &str)] = &[
        (
            "ai.profiles.",
            "AI profiles say where your secrets are sent",
            "lord ai add",
        ),
        (
            "ai.default-profile",
            "it decides which AI service your prompts are sent to",
            "lord config set --user",
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
        (
            "quota.",
            "quotas bound what plugins may do, and a plugin that can write the project could \
             raise its own",
            "lord config set --user",
        ),
        (
            "events.",
            "how much of the event log plugins may fill, and for how long, bounds every plugin, \
             and a plugin that can write the project could raise its own share",
            "lord config set --user",
        ),
        (
            "shared.max-value-kib",
            "it bounds what plugins may share, and a plugin that can write the project could \
             raise it",
            "lord config set --user",
        ),
        (
            "micro.routes",
            "routes decide which handler answers for a micro-plugin id, and a project could hand \
             another plugin's id to a handler of its choosing",
            "lord config set --user",
        ),
        (
            "messages.max-payload-kib",
            "it bounds what plugins may send each other, and a plugin that can write the \
             project could raise it",
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
            "ai.default-profile",
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
            "quota.calls-per-minute",
            "quota.plugins.notes.data-mib",
            "quota.strikes",
            "quota.strike-minutes",
            "events.plugin-budget-kib",
            "events.plugin-budget-events",
            "events.max-payload-kib",
            "events.retention-days",
            "shared.max-value-kib",
            "messages.max-payload-kib",
            "micro.routes",
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
