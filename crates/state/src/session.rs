//! The global state of one CLI session (seed 5.5.1): who and where, what
//! ran and how it went, and the settings every part reads (logger level,
//! theme), each with typed subscriptions. A subscription is a
//! `tokio::sync::watch::Receiver`: it always holds the latest value, wakes
//! on change, and dropping it unsubscribes.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

use serde::Serialize;
use tokio::sync::watch;

/// Commands kept in the history.
const HISTORY: usize = 50;

/// Who runs lord, where, and how it was started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    pub user: Option<String>,
    pub project: PathBuf,
    /// The command line's words after `lord`.
    pub command: Vec<String>,
    pub version: String,
    pub started_at_ms: i64,
    /// The variables lord reads for itself (`LORD_HOME`, `LORD_PROFILE`),
    /// never the whole environment: the session is shown to users and is
    /// not a way round `env(NAME)` grants.
    pub environment: BTreeMap<String, String>,
}

/// One finished command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandRun {
    pub command: String,
    pub ok: bool,
    pub duration_ms: u64,
}

/// What ran in this session and how it went.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Telemetry {
    pub commands_run: u64,
    pub errors: u64,
    /// Newest last, at most 50.
    pub history: VecDeque<CommandRun>,
    /// Named measurements (e.g. `load_ms`), last value wins.
    pub metrics: BTreeMap<String, f64>,
}

/// The session's global state.
#[derive(Debug)]
pub struct GlobalState {
    info: SessionInfo,
    telemetry: watch::Sender<Telemetry>,
    log_level: watch::Sender<String>,
    theme: watch::Sender<String>,
}

impl GlobalState {
    pub fn new(info: SessionInfo, log_level: String, theme: String) -> Self {
        Self {
            info,
            telemetry: watch::Sender::new(Telemetry::default()),
            log_level: watch::Sender::new(log_level),
            theme: watch::Sender::new(theme),
        }
    }

    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    pub fn telemetry(&self) -> Telemetry {
        self.telemetry.borrow().clone()
    }

    /// Records a finished command; subscribers wake.
    pub fn record_command(&self, command: &str, ok: bool, duration_ms: u64) {
        self.telemetry.send_modify(|t| {
            t.commands_run += 1;
            if !ok {
                t.errors += 1;
            }
            if t.history.len() == HISTORY {
                t.history.pop_front();
            }
            t.history.push_back(CommandRun {
                command: command.to_owned(),
                ok,
                duration_ms,
            });
        });
    }

    pub fn set_metric(&self, name: &str, value: f64) {
        self.telemetry.send_modify(|t| {
            t.metrics.insert(name.to_owned(), value);
        });
    }

    pub fn subscribe_telemetry(&self) -> watch::Receiver<Telemetry> {
        self.telemetry.subscribe()
    }

    pub fn log_level(&self) -> String {
        self.log_level.borrow().clone()
    }

    /// Changes the level; subscribers wake only on an actual change.
    pub fn set_log_level(&self, level: &str) {
        self.log_level.send_if_modified(|l| {
            let changed = l != level;
            level.clone_into(l);
            changed
        });
    }

    pub fn subscribe_log_level(&self) -> watch::Receiver<String> {
        self.log_level.subscribe()
    }

    pub fn theme(&self) -> String {
        self.theme.borrow().clone()
    }

    pub fn set_theme(&self, theme: &str) {
        self.theme.send_if_modified(|t| {
            let changed = t != theme;
            theme.clone_into(t);
            changed
        });
    }

    pub fn subscribe_theme(&self) -> watch::Receiver<String> {
        self.theme.subscribe()
    }
}
