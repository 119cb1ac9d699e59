//! `lord alert list|test|silence` and `lord monitor watch`'s alerting:
//! rules come from `monitor.alerts`, channels from `monitor.notify.*`
//! (their secrets from `lord secret`, by name), transitions and silences
//! go to `$LORD_HOME/monitor.db`.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use clap::Subcommand;
use lord_host::Framework;
use lord_monitor::alert::{AlertState, Rule, Transition};
use lord_monitor::notify::{Channels, Email, Webhook};
use lord_monitor::{AlertLog, Entry, Silence};
use serde_json::{Value, json};

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::{Output, foreign};

#[derive(Debug, Subcommand)]
pub(crate) enum AlertCommand {
    /// The rules in `monitor.alerts`, each one's state and silence, and
    /// the latest transitions.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Send a test notification for a rule through every channel.
    Test { rule: String },
    /// Hold a rule's notifications back for a while (its transitions are
    /// still recorded).
    Silence {
        rule: String,
        /// How long (`30m`, `2h`).
        #[arg(long = "for", value_parser = crate::commands::monitor::parse_span)]
        span: Duration,
        /// Why, for whoever looks at the list.
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// Milliseconds since the Unix epoch, as samples and silences count time.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `$LORD_HOME/monitor.db`, its folder made if need be.
pub(crate) fn monitor_db(ctx: &Context) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(&ctx.home).with_context(|| format!("making {}", ctx.home.display()))?;
    Ok(ctx.home.join("monitor.db"))
}

pub(crate) fn open_log(ctx: &Context) -> Result<AlertLog> {
    Ok(AlertLog::open(&monitor_db(ctx)?)?)
}

/// The rules `monitor.alerts` holds (none when unset).
pub(crate) fn rules(framework: &Framework) -> Result<Vec<Rule>> {
    let settings = framework.settings()?;
    let Some(value) = settings.get("monitor.alerts") else {
        return Ok(Vec::new());
    };
    lord_monitor::alert::rules_from(&value, |text| {
        let parsed: jiff::SignedDuration = text
            .parse()
            .map_err(|e| format!("`{text}` is not a duration like 30s or 5m: {e}"))?;
        Duration::try_from(parsed).map_err(|_| format!("`{text}` is negative"))
    })
    .map_err(|e| UsageError(e).into())
}

fn setting_str(settings: &lord_config::Config, key: &str) -> Option<String> {
    settings
        .get(key)
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// A `lord secret` by the name a setting gives.
fn secret(framework: &Framework, key: &str, name: &str) -> Result<String> {
    let value = framework.channels().secrets.get(name)?.ok_or_else(|| {
        UsageError(format!(
            "{key} names the secret `{name}`, which is not stored; add it with `lord secret \
                 set {name}`"
        ))
    })?;
    Ok(value.expose().to_owned())
}

/// The channels `monitor.notify.*` configures.
pub(crate) fn channels(framework: &Framework) -> Result<Channels> {
    let settings = framework.settings()?;
    let webhook = match setting_str(settings, "monitor.notify.webhook.url") {
        Some(url) => Some(Webhook {
            url,
            secret: setting_str(settings, "monitor.notify.webhook.secret")
                .map(|name| secret(framework, "monitor.notify.webhook.secret", &name))
                .transpose()?
                .map(String::into_bytes),
        }),
        None => None,
    };
    let email = match setting_str(settings, "monitor.notify.email.server") {
        Some(server) => {
            let from = setting_str(settings, "monitor.notify.email.from").ok_or_else(|| {
                UsageError("monitor.notify.email.from is not set; set the sender's address".into())
            })?;
            let to: Vec<String> = settings
                .get("monitor.notify.email.to")
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            if to.is_empty() {
                return Err(UsageError(
                    "monitor.notify.email.to is empty; list the addresses to write to".into(),
                )
                .into());
            }
            let credentials = match setting_str(settings, "monitor.notify.email.username") {
                Some(user) => {
                    let key = "monitor.notify.email.password-secret";
                    let name = setting_str(settings, key).ok_or_else(|| {
                        UsageError(format!(
                            "{key} is not set; name the `lord secret` holding the password"
                        ))
                    })?;
                    Some((user, secret(framework, key, &name)?))
                }
                None => None,
            };
            Some(Email {
                server,
                port: settings
                    .get("monitor.notify.email.port")
                    .and_then(|v| v.as_u64())
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or(587),
                from,
                to,
                credentials,
                ca_file: setting_str(settings, "monitor.notify.email.ca-file").map(Into::into),
            })
        }
        None => None,
    };
    Ok(Channels { webhook, email })
}

/// Notifies (unless silenced) and records one transition; the terminal
/// hears of it on stderr.
pub(crate) async fn handle(
    out: &Output,
    log: &AlertLog,
    channels: &Channels,
    transition: Transition,
) -> Result<Entry> {
    let silence = log.silenced(&transition.rule, transition.at_ms)?;
    let (mut delivered, failed) = if silence.is_some() {
        (Vec::new(), Vec::new())
    } else {
        channels.deliver(&transition).await
    };
    if silence.is_none() {
        out.warning(format_args!("alert: {}", foreign(&transition.summary)));
        delivered.insert(0, "terminal".to_owned());
    }
    for reason in &failed {
        out.warning(reason);
    }
    let entry = Entry {
        transition,
        silenced: silence.is_some(),
        delivered,
        failed,
    };
    log.record(&entry)?;
    Ok(entry)
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    command: AlertCommand,
) -> Result<ExitCode> {
    let log = open_log(ctx)?;
    match command {
        AlertCommand::List { json } => {
            let now = now_ms();
            let mut rows = Vec::new();
            for rule in rules(framework)? {
                let state = log.last_state(&rule.name)?;
                let silence = log.silenced(&rule.name, now)?;
                rows.push(json!({
                    "name": rule.name,
                    "metric": rule.metric.to_string(),
                    "firing": state == Some(AlertState::Firing),
                    "silenced_until_ms": silence.as_ref().map(|s| s.until_ms),
                }));
            }
            let history = log.history(20)?;
            if json {
                out.json(&json!({"rules": rows, "history": history}))?;
            } else {
                list_text(out, &rows, &history)?;
            }
        }
        AlertCommand::Test { rule } => {
            let rules = rules(framework)?;
            let Some(found) = rules.iter().find(|r| r.name == rule) else {
                return Err(UsageError(format!(
                    "no alert rule is named `{rule}`; `lord alert list` shows them"
                ))
                .into());
            };
            let transition = Transition {
                rule: found.name.clone(),
                metric: found.metric.to_string(),
                state: AlertState::Firing,
                value: None,
                at_ms: now_ms(),
                summary: format!("{} (a test from `lord alert test`)", found.name),
            };
            let (delivered, failed) = channels(framework)?.deliver(&transition).await;
            for channel in &delivered {
                out.status(format_args!("sent a test to the {channel}"));
            }
            for reason in &failed {
                out.warning(reason);
            }
            if delivered.is_empty() && failed.is_empty() {
                out.note("no channel is configured; set monitor.notify.webhook.url or monitor.notify.email.server");
            }
            if !failed.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
        AlertCommand::Silence { rule, span, reason } => {
            if !rules(framework)?.iter().any(|r| r.name == rule) {
                return Err(UsageError(format!(
                    "no alert rule is named `{rule}`; `lord alert list` shows them"
                ))
                .into());
            }
            let until_ms = now_ms() + span.as_millis() as u64;
            log.silence(&Silence {
                rule: rule.clone(),
                until_ms,
                reason,
            })?;
            out.status(format_args!(
                "silenced `{rule}` for {}",
                parse_interval_text(span)
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_interval_text(span: Duration) -> String {
    jiff::SignedDuration::try_from(span)
        .map(|d| format!("{d:#}"))
        .unwrap_or_else(|_| format!("{span:?}"))
}

fn list_text(out: &Output, rows: &[Value], history: &[Entry]) -> Result<()> {
    if rows.is_empty() {
        out.line("no alert rules; add [[monitor.alerts]] tables to the configuration")?;
    }
    for row in rows {
        let state = if row["firing"] == true {
            "FIRING"
        } else {
            "ok"
        };
        let silenced = if row["silenced_until_ms"].is_null() {
            ""
        } else {
            " (silenced)"
        };
        out.line(format_args!(
            "{:<8} {}  {}{silenced}",
            state,
            foreign(row["name"].as_str().unwrap_or("")),
            foreign(row["metric"].as_str().unwrap_or(""))
        ))?;
    }
    for entry in history {
        out.line(format_args!(
            "  {}  {}",
            entry.transition.at_ms,
            foreign(&entry.transition.summary)
        ))?;
    }
    Ok(())
}
