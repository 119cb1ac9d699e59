//! `lord monitor [top]|snapshot|stream|watch|export|serve|push`: the `monitor`
//! provider's commands over `lord-monitor`. Bare `lord monitor` (or
//! `lord monitor top`) opens the terminal dashboard. A snapshot prints once; a
//! stream prints one sample per interval (one JSON object a line with
//! `--json`); watch judges the alert rules at each interval and notifies;
//! export serves Prometheus metrics at `/metrics`; serve, the web
//! dashboard; push sends them to a
//! Pushgateway at each interval.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use lord_host::Framework;
use lord_monitor::http::{Gateway, Pusher};
use lord_monitor::{Collector, Options, Snapshot};

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::Output;

/// `lord monitor` alone opens the dashboard; a subcommand does the rest.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct MonitorArgs {
    #[command(subcommand)]
    command: Option<MonitorCommand>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MonitorCommand {
    /// The terminal dashboard (what bare `lord monitor` opens): live CPU,
    /// memory and network charts, processes to search, sort and kill,
    /// containers and installed plugins. Needs a terminal; scripts want
    /// `snapshot --json` or `stream --json`.
    Top {
        /// Time between samples (default `monitor.interval`, else 1s).
        #[arg(long, value_parser = parse_interval)]
        interval: Option<Duration>,
    },
    /// Sample the system once: CPU, memory, disks, network, processes and
    /// containers.
    Snapshot {
        #[arg(long)]
        json: bool,
        /// Include processes' command lines (they can hold secrets).
        #[arg(long)]
        command_lines: bool,
    },
    /// Sample the system again and again, one line per interval.
    Stream {
        /// Time between samples (`1s`, `500ms`, `1m`; default
        /// `monitor.interval`, else 1s).
        #[arg(long, value_parser = parse_interval)]
        interval: Option<Duration>,
        /// Stop after this many samples (default: until interrupted).
        #[arg(long)]
        count: Option<u64>,
        /// One JSON snapshot per line.
        #[arg(long)]
        json: bool,
    },
    /// Keep each sample in the history (`lord monitor report`), judge
    /// the alert rules (`monitor.alerts`), and notify when one fires or
    /// resolves (`lord alert list` shows them).
    Watch {
        /// Time between samples (default `monitor.interval`, else 1s).
        #[arg(long, value_parser = parse_interval)]
        interval: Option<Duration>,
        /// Stop after this many samples (default: until interrupted).
        #[arg(long)]
        count: Option<u64>,
        /// Each transition as one JSON object a line.
        #[arg(long)]
        json: bool,
    },
    /// Summarise the history `lord monitor watch` kept: each figure's
    /// last, minimum, median, mean, 95th percentile and maximum, and its
    /// anomalies (Markdown, or JSON with --json).
    Report {
        /// How far back (`1h`, `30m`, `7d`).
        #[arg(long, default_value = "1h", value_parser = parse_span)]
        since: Duration,
        #[arg(long)]
        json: bool,
    },
    /// Serve Prometheus metrics at http://ADDRESS/metrics (OpenMetrics or
    /// the classic text format, as the scraper asks).
    Export {
        /// Where to listen; anything but loopback needs --token-file.
        #[arg(long, default_value = "127.0.0.1:9464")]
        listen: SocketAddr,
        /// A file holding the bearer token scrapes must present (what
        /// Prometheus's `authorization.credentials_file` sends).
        #[arg(long, value_name = "PATH")]
        token_file: Option<PathBuf>,
    },
    /// Serve the web dashboard at http://ADDRESS/: live charts over
    /// server-sent events and the busiest processes.
    Serve {
        /// Where to listen; anything but loopback needs --token-file.
        #[arg(long, default_value = "127.0.0.1:9465")]
        listen: SocketAddr,
        /// A file holding the token the dashboard wants (open it as
        /// /?token=TOKEN, or send `Authorization: Bearer TOKEN`).
        #[arg(long, value_name = "PATH")]
        token_file: Option<PathBuf>,
        /// Time between samples (default `monitor.interval`, else 1s).
        #[arg(long, value_parser = parse_interval)]
        interval: Option<Duration>,
    },
    /// Push metrics to a Prometheus Pushgateway at each interval.
    Push {
        /// The gateway's URL (http://HOST:9091).
        #[arg(long)]
        gateway: String,
        /// The `job` grouping label.
        #[arg(long, default_value = "lord")]
        job: String,
        /// The `instance` grouping label (default: the host name).
        #[arg(long)]
        instance: Option<String>,
        /// Time between pushes (default `monitor.interval`, else 1s).
        #[arg(long, value_parser = parse_interval)]
        interval: Option<Duration>,
        /// Stop after this many pushes (default: until interrupted).
        #[arg(long)]
        count: Option<u64>,
    },
}

/// Any positive duration: jiff's friendly format (`30m`, `7d`).
pub(crate) fn parse_span(text: &str) -> Result<Duration, String> {
    // Days are calendar units to jiff; a span back from now counts them
    // as 24 hours each.
    if let Some(days) = text
        .strip_suffix('d')
        .and_then(|d| d.trim().parse::<u64>().ok())
    {
        return Ok(Duration::from_secs(days.saturating_mul(86_400)));
    }
    let parsed: jiff::SignedDuration = text
        .parse()
        .map_err(|e| format!("`{text}` is not a duration like 30m, 1h or 7d: {e}"))?;
    Duration::try_from(parsed).map_err(|_| format!("`{text}` is negative"))
}

/// `1s`, `500ms`, `2m`: jiff's friendly durations, at least 200 ms (the
/// shortest window the CPU figures mean anything over).
pub(crate) fn parse_interval(text: &str) -> Result<Duration, String> {
    let parsed: jiff::SignedDuration = text
        .parse()
        .map_err(|e| format!("`{text}` is not a duration like 1s, 500ms or 1m: {e}"))?;
    let duration = Duration::try_from(parsed)
        .map_err(|_| format!("`{text}` is negative; give a time like 1s"))?;
    if duration < Duration::from_millis(200) {
        return Err(format!(
            "`{text}` is shorter than the 200ms CPU figures need"
        ));
    }
    Ok(duration)
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    args: MonitorArgs,
) -> Result<ExitCode> {
    let command = args
        .command
        .unwrap_or(MonitorCommand::Top { interval: None });
    match command {
        MonitorCommand::Top { interval } => top(ctx, framework, interval).await?,
        MonitorCommand::Snapshot {
            json,
            command_lines,
        } => {
            let snapshot = sample_once(framework, command_lines).await?;
            if json {
                out.json(&snapshot)?;
            } else {
                out.text(&crate::render::monitor::summary(&snapshot))?;
            }
        }
        MonitorCommand::Stream {
            interval,
            count,
            json,
        } => {
            let interval = interval_or_setting(framework, interval)?;
            let mut collector = new_collector(framework, false)?;
            let mut n = 0u64;
            while count.is_none_or(|c| n < c) {
                if n > 0 {
                    tokio::time::sleep(interval).await;
                }
                let (snapshot, back) = sample(collector).await?;
                collector = back;
                if json {
                    out.json_line(&snapshot)?;
                } else {
                    out.line(crate::render::monitor::one_line(&snapshot))?;
                }
                n += 1;
            }
        }
        MonitorCommand::Watch {
            interval,
            count,
            json,
        } => watch(ctx, out, framework, interval, count, json).await?,
        MonitorCommand::Report { since, json } => {
            let history =
                lord_monitor::history::History::open(&crate::commands::alert::monitor_db(ctx)?)?;
            let now = crate::commands::alert::now_ms();
            let report = history.report(now.saturating_sub(since.as_millis() as u64), now)?;
            if json {
                out.json(&report)?;
            } else {
                out.text(&crate::render::monitor::report(&report))?;
            }
        }
        MonitorCommand::Export { listen, token_file } => {
            export(ctx, out, framework, listen, token_file).await?;
        }
        MonitorCommand::Serve {
            listen,
            token_file,
            interval,
        } => serve(ctx, out, framework, listen, token_file, interval).await?,
        MonitorCommand::Push {
            gateway,
            job,
            instance,
            interval,
            count,
        } => {
            let interval = interval_or_setting(framework, interval)?;
            let mut collector = new_collector(framework, false)?;
            let mut n = 0u64;
            let mut pusher = None;
            while count.is_none_or(|c| n < c) {
                if n > 0 {
                    tokio::time::sleep(interval).await;
                }
                let (snapshot, back) = sample(collector).await?;
                collector = back;
                let pusher = pusher.get_or_insert_with(|| {
                    Pusher::new(Gateway {
                        url: gateway.clone(),
                        job: job.clone(),
                        instance: instance
                            .clone()
                            .or_else(|| snapshot.host.name.clone())
                            .unwrap_or_else(|| "localhost".to_owned()),
                    })
                });
                pusher.push(&snapshot).await?;
                n += 1;
            }
            out.status(format_args!("pushed {n} samples to {gateway}"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `lord monitor export`: Prometheus metrics at `/metrics`.
async fn export(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    listen: SocketAddr,
    token_file: Option<PathBuf>,
) -> Result<()> {
    let token = token_for(ctx, listen, token_file)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;
    out.status(format_args!("serving metrics on http://{address}/metrics"));
    lord_monitor::http::serve_until(
        listener,
        new_collector(framework, false)?,
        token,
        crate::commands::registry::stop_requested(),
    )
    .await
    .context("serving metrics")?;
    Ok(())
}

/// `lord monitor serve`: the web dashboard.
async fn serve(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    listen: SocketAddr,
    token_file: Option<PathBuf>,
    interval: Option<Duration>,
) -> Result<()> {
    let token = token_for(ctx, listen, token_file)?;
    let interval = interval_or_setting(framework, interval)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;
    out.status(format_args!("serving the dashboard on http://{address}/"));
    lord_monitor::web::serve_until(
        listener,
        new_collector(framework, false)?,
        interval,
        token,
        crate::commands::registry::stop_requested(),
    )
    .await
    .context("serving the dashboard")?;
    Ok(())
}

/// `lord monitor top`: the dashboard, on a blocking thread (it waits on
/// the keyboard), with the installed plugins read up front.
async fn top(ctx: &Context, framework: &Framework, interval: Option<Duration>) -> Result<()> {
    if !ctx.terminal.stdout {
        return Err(UsageError(
            "the dashboard needs a terminal and standard output is not one; \
             for scripts use `lord monitor snapshot --json` or `lord monitor stream --json`"
                .to_owned(),
        )
        .into());
    }
    let interval = interval_or_setting(framework, interval)?;
    let plugins = framework
        .list(&lord_host::PluginFilter::default())?
        .into_iter()
        .map(|p| crate::commands::dashboard::PluginRow {
            id: p.manifest.plugin.id.to_string(),
            version: p.manifest.plugin.version.to_string(),
            state: p.state.to_string(),
        })
        .collect();
    let collector = new_collector(framework, false)?;
    tokio::task::spawn_blocking(move || {
        crate::commands::dashboard::run(collector, interval, plugins)
    })
    .await
    .context("the dashboard stopped")?
}

/// `lord monitor watch`: sample, judge, notify, record.
async fn watch(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    interval: Option<Duration>,
    count: Option<u64>,
    json: bool,
) -> Result<()> {
    let rules = crate::commands::alert::rules(framework)?;
    if rules.is_empty() {
        out.note("no alert rules ([[monitor.alerts]]): keeping the history only");
    }
    let mut history =
        lord_monitor::history::History::open(&crate::commands::alert::monitor_db(ctx)?)?;
    let interval = interval_or_setting(framework, interval)?;
    let channels = crate::commands::alert::channels(framework)?;
    let log = crate::commands::alert::open_log(ctx)?;
    let names: Vec<String> = rules.iter().map(|r| r.name.clone()).collect();
    let mut evaluator = lord_monitor::alert::Evaluator::new(rules);
    // An alert still firing when the last watcher stopped is not news.
    for name in names {
        if log.last_state(&name)? == Some(lord_monitor::alert::AlertState::Firing) {
            evaluator.resume_firing(&name);
        }
    }
    let mut collector = new_collector(framework, false)?;
    let mut n = 0u64;
    while count.is_none_or(|c| n < c) {
        if n > 0 {
            tokio::time::sleep(interval).await;
        }
        let (snapshot, back) = sample(collector).await?;
        collector = back;
        history.record(&snapshot)?;
        for transition in evaluator.observe(&snapshot) {
            let entry = crate::commands::alert::handle(out, &log, &channels, transition).await?;
            if json {
                out.json_line(&entry)?;
            } else {
                out.line(crate::render::foreign(&entry.transition.summary))?;
            }
        }
        n += 1;
    }
    Ok(())
}

/// A collector whose samples also carry the plugins' figures from lord's
/// performance monitor.
fn new_collector(framework: &Framework, command_lines: bool) -> Result<Collector> {
    Ok(Collector::new(Options {
        command_lines,
        ..Options::default()
    })?
    .with_plugins(framework.plugin_figures()))
}

/// Samples on a blocking thread (the collector reads many small files)
/// and hands the collector back for the next window.
async fn sample(mut collector: Collector) -> Result<(Snapshot, Collector)> {
    tokio::task::spawn_blocking(move || {
        let snapshot = collector.sample()?;
        Ok((snapshot, collector))
    })
    .await
    .context("sampling stopped")?
}

async fn sample_once(framework: &Framework, command_lines: bool) -> Result<Snapshot> {
    Ok(sample(new_collector(framework, command_lines)?).await?.0)
}

fn interval_or_setting(framework: &Framework, flag: Option<Duration>) -> Result<Duration> {
    if let Some(d) = flag {
        return Ok(d);
    }
    let setting = framework
        .settings()?
        .get("monitor.interval")
        .and_then(|v| v.as_str().map(str::to_owned));
    match setting {
        Some(text) => {
            parse_interval(&text).map_err(|e| UsageError(format!("monitor.interval: {e}")).into())
        }
        None => Ok(Duration::from_secs(1)),
    }
}

/// The token a server bound to `listen` wants: the file's, required
/// unless the address is loopback (reachable from this machine only).
fn token_for(
    ctx: &Context,
    listen: SocketAddr,
    token_file: Option<PathBuf>,
) -> Result<Option<String>> {
    match token_file {
        Some(path) => Ok(Some(read_token(&ctx.cwd.join(path))?)),
        None if listen.ip().is_loopback() => Ok(None),
        None => Err(UsageError(format!(
            "{listen} is reachable beyond this machine; pass --token-file PATH \
             with a token clients must present, or listen on 127.0.0.1"
        ))
        .into()),
    }
}

fn read_token(path: &std::path::Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the token file {}", path.display()))?;
    let token = text.trim().to_owned();
    if token.is_empty() {
        return Err(UsageError(format!(
            "the token file {} is empty; put a long random token in it",
            path.display()
        ))
        .into());
    }
    Ok(token)
}
