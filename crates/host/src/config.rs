//! What the framework takes from its surroundings, passed in once so tests
//! and embedding CLIs decide it: nothing in lord-host reads the
//! environment.

use std::path::PathBuf;

/// Failures in a row that disable a plugin.
const DEFAULT_BREAKER_THRESHOLD: u32 = 3;

/// Everything the framework takes from its surroundings.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Where all state lives (`$LORD_HOME`).
    pub home: PathBuf,
    /// Where the project's `lord.toml` and `lord.lock` live.
    pub project_dir: PathBuf,
    /// The folder `$PROJECT` grants refer to for this run; `None` when lord
    /// runs where there is no project (see `find_project`), and then a
    /// `$PROJECT` grant refuses the call.
    pub project: Option<PathBuf>,
    /// Folders no grant may equal or contain: lord's own state, its
    /// binary, its keys, its configuration. `new` protects `home` and the
    /// system configuration; a CLI adds what it knows (its binary's folder,
    /// the keyring's files).
    pub protected: Vec<crate::project::Protected>,
    /// The process environment, from which `env(NAME)` grants take values.
    pub env: Vec<(String, String)>,
    /// Where each plugin's `$TMP` scratch folder is made (default:
    /// `$LORD_HOME/tmp`, so relocating the home relocates it too).
    pub tmp_root: PathBuf,
    pub breaker_threshold: u32,
    /// Crash injection for tests (see `lord_store::Failpoint`).
    pub failpoint: Option<String>,
    /// The configuration files, environment and flags (see `lord-config`).
    pub config: lord_config::Sources,
    /// Who runs this session, where, and how it was started.
    pub session: lord_state::SessionInfo,
    /// Where the governance policies live, and who asks them.
    pub policy: crate::governance::PolicyPlaces,
}

impl HostConfig {
    pub fn new(home: PathBuf, project_dir: PathBuf) -> Self {
        // The system file is the same for every user; the user file lives
        // with the rest of lord's state; the project file is the project's.
        let config = lord_config::Sources {
            system: Some(PathBuf::from("/etc/lord/config.toml")),
            user: Some(home.join("config.toml")),
            project: Some(project_dir.join("lord.toml")),
            ..lord_config::Sources::default()
        };
        let session = lord_state::SessionInfo {
            user: None,
            project: project_dir.clone(),
            command: Vec::new(),
            version: String::new(),
            started_at_ms: lord_state::now_ms(),
            environment: std::collections::BTreeMap::new(),
        };
        let protected = vec![
            crate::project::Protected::new(
                &home,
                "lord's state (LORD_HOME): the plugin store and its grants, the \
                 compiled code cache, keys, secrets and lord's own configuration",
            ),
            crate::project::Protected::new("/etc/lord", "lord's system-wide configuration"),
        ];
        Self {
            session,
            policy: crate::governance::PolicyPlaces::new(&home),
            tmp_root: home.join("tmp"),
            project: Some(project_dir.clone()),
            protected,
            home,
            project_dir,
            env: Vec::new(),
            breaker_threshold: DEFAULT_BREAKER_THRESHOLD,
            failpoint: None,
            config,
        }
    }
}
