//! The one door for ambient inputs: environment variables, the working
//! directory, the home directory and whether we talk to a terminal are read
//! here, once, and passed down. Nothing else in lord reads the environment.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use lord_host::HostConfig;

/// What lord talks to: which standard streams are terminals, and whether
/// the user asked for no colour (`NO_COLOR`, https://no-color.org). Read
/// apart from the rest of the context because it cannot fail, so even an
/// error about the context itself is rendered by the same rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Terminal {
    pub(crate) stdin: bool,
    pub(crate) stdout: bool,
    pub(crate) stderr: bool,
    pub(crate) no_color: bool,
}

impl Terminal {
    #[expect(
        clippy::disallowed_methods,
        reason = "this is the one place lord reads its environment"
    )]
    pub(crate) fn detect() -> Self {
        Self {
            stdin: std::io::stdin().is_terminal(),
            stdout: std::io::stdout().is_terminal(),
            stderr: std::io::stderr().is_terminal(),
            // Present and not empty, as the convention says.
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) home: PathBuf,
    pub(crate) cwd: PathBuf,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) failpoint: Option<String>,
    pub(crate) terminal: Terminal,
    /// The first command-line argument (the command), if any.
    pub(crate) command: Option<String>,
    /// Every argument after the program name, for the session record.
    pub(crate) args: Vec<String>,
    /// The whole command line, program name first, for clap.
    pub(crate) argv: Vec<OsString>,
    /// The cargo that builds Rust plugins (`$CARGO`, else `cargo` on PATH).
    pub(crate) cargo: PathBuf,
    /// The user's home folder, which is never a project.
    pub(crate) user_home: Option<PathBuf>,
    /// The folder holding the running `lord`, which no grant may write.
    pub(crate) exe_dir: Option<PathBuf>,
    /// The running `lord` itself (what `lord self update` replaces).
    pub(crate) exe: Option<PathBuf>,
    /// Where the Secret Service keeps its keyrings (GNOME Keyring's files).
    pub(crate) keyrings: Option<PathBuf>,
}

impl Context {
    #[expect(
        clippy::disallowed_methods,
        reason = "this is the one place lord reads its environment and working directory"
    )]
    pub(crate) fn from_process(terminal: Terminal) -> Result<Self> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let var = |name: &str| {
            env.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let home = match var("LORD_HOME") {
            Some(home) => PathBuf::from(home),
            None => directories::ProjectDirs::from("dev", "lord-commander", "lord")
                .map(|dirs| dirs.data_dir().to_path_buf())
                .context(
                    "could not find a data directory for this user; set LORD_HOME to a \
                     folder lord may use",
                )?,
        };
        let cwd = std::env::current_dir().context("could not read the working directory")?;
        let cargo = var("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
        let dirs = directories::BaseDirs::new();
        Ok(Self {
            user_home: dirs.as_ref().map(|d| d.home_dir().to_path_buf()),
            keyrings: dirs.as_ref().map(|d| d.data_dir().join("keyrings")),
            exe_dir: std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(std::path::Path::to_path_buf)),
            exe: std::env::current_exe().ok(),
            failpoint: var("LORD_FAILPOINT"),
            home,
            cwd,
            env,
            terminal,
            command: std::env::args().nth(1),
            args: std::env::args().skip(1).collect(),
            argv: std::env::args_os().collect(),
            cargo,
        })
    }

    /// Whether the command benefits from a multi-threaded runtime: a
    /// pipeline, and the registry, whose server answers many clients at
    /// once (its other subcommands pay a few threads' start, unnoticed).
    pub(crate) fn wants_parallelism(&self) -> bool {
        matches!(self.command.as_deref(), Some("pipe" | "registry"))
    }

    pub(crate) fn host_config(&self) -> HostConfig {
        // `$PROJECT` is the project around the working directory, never the
        // home folder or the root; lord.toml and lord.lock live there too.
        let project = lord_host::find_project(&self.cwd, self.user_home.as_deref());
        let mut config = HostConfig::new(
            self.home.clone(),
            project.clone().unwrap_or_else(|| self.cwd.clone()),
        );
        config.project = project;
        if let Some(dir) = &self.exe_dir {
            config.protected.push(lord_host::Protected::from_writes(
                dir,
                "the folder holding the running lord binary",
            ));
        }
        if let Some(dir) = &self.keyrings {
            config
                .protected
                .push(lord_host::Protected::new(dir, "the OS keyring's files"));
        }
        config.env = self.env.clone();
        config.failpoint = self.failpoint.clone();
        config.config.env = self.env.clone();
        config.session = lord_host::lord_state::SessionInfo {
            user: self
                .env
                .iter()
                .find(|(k, _)| k == "USER" || k == "USERNAME")
                .map(|(_, v)| v.clone()),
            project: self.cwd.clone(),
            command: self.args.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at_ms: lord_host::lord_state::now_ms(),
            environment: self
                .env
                .iter()
                // Only what lord reads for itself: a configuration value
                // set through LORD_* may be a token, and the session is shown.
                .filter(|(k, _)| k == "LORD_HOME" || k == "LORD_PROFILE")
                .cloned()
                .collect(),
        };
        config.config.profile = self
            .env
            .iter()
            .find(|(k, _)| k == "LORD_PROFILE")
            .map(|(_, v)| v.clone());
        // Policies ask who the operating system says runs lord: `USER` is
        // the user's to set, so it never names the principal.
        config.policy.user = account_name().unwrap_or_else(|| "unknown".to_owned());
        if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            config.policy.hostname = name.trim().to_owned();
        }
        config
    }
}

/// The name of the account this process runs as: its real uid (from
/// `/proc/self/status`) looked up in `/etc/passwd`, or `uid:N` when the
/// account has no entry there.
fn account_name() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_owned())
    });
    Some(name.unwrap_or_else(|| format!("uid:{uid}")))
}
