//! `lord events tail|replay|dropped`: the persisted event log (`global`
//! events of plugins and lord's own `system` events), oldest first, and
//! what it dropped: older events to keep each plugin within its budget,
//! and events it let go past 4,096 queued while it could not write.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use lord_host::Framework;
use lord_host::lord_state::{Event, EventLog, now_ms};
use lord_manifest::Topic;

use crate::cli::UsageError;
use crate::render::{self, Output};

#[derive(Debug, Subcommand)]
pub(crate) enum EventsCommand {
    /// Show the latest events; with --follow, keep showing new ones.
    Tail {
        /// Only events on topics this pattern covers (`*` one segment, `**` any).
        #[arg(long)]
        topic: Option<String>,
        /// How many recent events to show first.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: u64,
        /// Keep waiting for new events (Ctrl-C to stop).
        #[arg(short, long)]
        follow: bool,
        /// Decrypt the payloads of events marked sensitive.
        #[arg(long)]
        reveal: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show every event since a time, in the order they were published.
    Replay {
        /// How far back: a duration like `90s`, `15m`, `2h`, `7d`, or
        /// milliseconds since the Unix epoch.
        #[arg(long)]
        since: String,
        #[arg(long)]
        topic: Option<String>,
        /// Decrypt the payloads of events marked sensitive.
        #[arg(long)]
        reveal: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show how many events of each source the log dropped: a plugin's
    /// oldest, to keep it within its budget, and any it let go past 4,096
    /// queued while it could not write.
    Dropped {
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(
    out: &Output,
    framework: &Framework,
    command: EventsCommand,
) -> Result<ExitCode> {
    let channels = framework.channels();
    let log = channels
        .bus
        .log()
        .ok_or_else(|| anyhow!("this lord keeps no event log"))?;
    match command {
        EventsCommand::Tail {
            topic,
            lines,
            follow,
            reveal,
            json,
        } => {
            let pattern = pattern(topic.as_deref())?;
            // Following starts after what is stored now, whether or not
            // the pattern showed it.
            let mut last = log.newest_seq()?;
            for event in read(log, 0, lines.max(1), pattern.as_ref(), reveal)? {
                last = last.max(event.seq);
                print_event(out, &event, pattern.as_ref(), json)?;
            }
            let dropped: u64 = log.dropped()?.iter().map(|d| d.dropped).sum();
            if dropped > 0 {
                out.note(format_args!(
                    "{dropped} event(s) were dropped: older ones to keep plugins within their \
                     share of the log, or ones let go past 4,096 queued while the log could not \
                     write; see `lord events dropped`"
                ));
            }
            if follow {
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    last = print_after(out, log, last, pattern.as_ref(), reveal, json)?;
                }
            }
        }
        EventsCommand::Replay {
            since,
            topic,
            reveal,
            json,
        } => {
            let pattern = pattern(topic.as_deref())?;
            let since = since_ms(&since)?;
            for event in read(log, since, u64::MAX, pattern.as_ref(), reveal)? {
                print_event(out, &event, pattern.as_ref(), json)?;
            }
        }
        EventsCommand::Dropped { json } => {
            let dropped = log.dropped()?;
            if json {
                out.json(&dropped)?;
            } else {
                for entry in &dropped {
                    out.line(format_args!(
                        "{}\t{}",
                        render::foreign(&entry.source),
                        entry.dropped
                    ))?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn pattern(topic: Option<&str>) -> Result<Option<Topic>> {
    topic
        .map(|t| {
            Topic::pattern(t)
                .map_err(|problem| UsageError(format!("--topic `{t}`: {problem}")).into())
        })
        .transpose()
}

/// The newest `limit` events since `since` that `pattern` matches (any,
/// without one). Sensitive payloads stay `null` unless the user asked to
/// see them.
fn read(
    log: &EventLog,
    since: i64,
    limit: u64,
    pattern: Option<&Topic>,
    reveal: bool,
) -> Result<Vec<Event>> {
    Ok(match pattern {
        Some(pattern) => log.matching(since, limit, pattern, reveal)?,
        None if reveal => log.since_revealed(since, limit)?,
        None => log.since(since, limit)?,
    })
}

fn print_after(
    out: &Output,
    log: &EventLog,
    after: u64,
    pattern: Option<&Topic>,
    reveal: bool,
    json: bool,
) -> Result<u64> {
    // By number, not time: an event another process stored late carries
    // the time it was published, which may be long past.
    let (events, next) = log.after(after, 10_000, pattern, reveal)?;
    for event in &events {
        print_event(out, event, pattern, json)?;
    }
    Ok(next)
}

fn print_event(out: &Output, event: &Event, pattern: Option<&Topic>, json: bool) -> Result<()> {
    if pattern.is_some_and(|p| !p.matches(&event.topic)) {
        return Ok(());
    }
    if json {
        out.json_line(event)
    } else {
        out.line(render::event_line(event))
    }
}

/// `--since`: a duration back from now, or an absolute epoch in ms.
fn since_ms(text: &str) -> Result<i64> {
    let bad = || {
        UsageError(format!(
            "--since `{text}` is neither a duration like 15m, 2h or 7d nor milliseconds since the Unix epoch"
        ))
    };
    if let Ok(absolute) = text.parse::<i64>() {
        return Ok(absolute);
    }
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad().into()),
    };
    Ok(now_ms() - number.saturating_mul(unit_ms))
}
