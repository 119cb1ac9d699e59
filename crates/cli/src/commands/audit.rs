//! `lord audit verify|report|export`: the hash-chained audit trail. Verify
//! walks the chain and the signed checkpoints and names each record that
//! was edited, deleted, moved or cut off, and a fork (exit 1 when anything
//! is wrong); report lists records since a time; export writes them as
//! JSON lines for a SIEM or sends them to syslog, each with its hashes so
//! the receiver can check the chain itself.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use lord_host::Framework;
use serde_json::json;

use super::monitor::parse_span;
use crate::render::{Output, foreign};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the chain and its signed checkpoints; exit 1 when a record
    /// was edited, deleted, moved or cut off, or the trail forked.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// The records since a time, oldest first.
    Report {
        /// How far back (`1h`, `30m`, `7d`).
        #[arg(long, default_value = "7d", value_parser = parse_span)]
        since: Duration,
        #[arg(long)]
        json: bool,
    },
    /// Write the records since a time for a SIEM: as JSON lines to a file
    /// (replaced whole, atomically), or to syslog.
    Export {
        #[arg(long, default_value = "7d", value_parser = parse_span)]
        since: Duration,
        /// The file of JSON lines to write.
        #[arg(long, conflicts_with = "syslog")]
        jsonl: Option<PathBuf>,
        /// Send each record to syslog (RFC 5424, facility auth) over this
        /// Unix socket.
        #[arg(long, num_args = 0..=1, default_missing_value = "/dev/log")]
        syslog: Option<PathBuf>,
    },
}

fn since_secs(since: Duration) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.saturating_sub(since).as_secs()).unwrap_or(0)
}

pub(crate) fn run(out: &Output, framework: &Framework, command: AuditCommand) -> Result<ExitCode> {
    match command {
        AuditCommand::Verify { json } => {
            let verdict = framework.audit_verify()?;
            if json {
                out.json(&verdict)?;
            } else if verdict.problems.is_empty() {
                out.line(format_args!(
                    "the audit trail holds: {} records, the newest {}; {} checkpoints, the newest at record {}",
                    verdict.records,
                    verdict.last,
                    verdict.checkpoints,
                    verdict.newest_checkpoint.map_or_else(|| "none".to_owned(), |s| s.to_string())
                ))?;
            } else {
                for problem in &verdict.problems {
                    out.error_line(problem);
                }
            }
            return Ok(if verdict.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        AuditCommand::Report { since, json } => {
            let records = framework.audit_records(since_secs(since))?;
            if json {
                out.json(&json!({ "records": records }))?;
            } else {
                for r in &records {
                    out.line(format_args!(
                        "{:>6} {} {:<16} {:<12} {}",
                        r.seq,
                        lord_host::audit::rfc3339(r.at),
                        r.plugin,
                        r.action,
                        foreign(&r.detail)
                    ))?;
                }
            }
        }
        AuditCommand::Export {
            since,
            jsonl,
            syslog,
        } => {
            let records = framework.audit_records(since_secs(since))?;
            if let Some(path) = jsonl {
                let mut text = String::new();
                for record in &records {
                    text.push_str(&serde_json::to_string(record)?);
                    text.push('\n');
                }
                lord_file::write_atomic(&path, text.as_bytes())
                    .with_context(|| format!("could not write {}", path.display()))?;
                out.status(format_args!(
                    "wrote {} records to {}",
                    records.len(),
                    path.display()
                ));
            } else if let Some(socket) = syslog {
                let sender = std::os::unix::net::UnixDatagram::unbound()
                    .context("could not open a socket for syslog")?;
                // RFC 5424 asks for the host's name; `-` when it cannot be read.
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_owned())
                    .unwrap_or_else(|_| "-".to_owned());
                for record in &records {
                    sender
                        .send_to(
                            lord_host::audit::syslog_line(record, &host).as_bytes(),
                            &socket,
                        )
                        .with_context(|| {
                            format!("could not send to syslog at {}", socket.display())
                        })?;
                }
                out.status(format_args!(
                    "sent {} records to {}",
                    records.len(),
                    socket.display()
                ));
            } else {
                return Err(crate::cli::UsageError(
                    "say where: --jsonl FILE or --syslog [SOCKET]".to_owned(),
                )
                .into());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
