//! Plugin state under concurrency: how fast one process writes persistent
//! data by compare-and-swap (`data_cas_per_s`, beside
//! `shared_state_ratio`), and whether 100 `lord note` processes started
//! at once leave 100 notes and a count of 100 (`concurrent_note_loss`,
//! which must be 0: every note is a compare-and-swap in `state.db`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use lord_host::Framework;
use lord_host::lord_state::{
    CasOutcome, EventBus, PluginData, Scope, ScopeGrants, SharedState, StateDb,
};

use crate::fixtures::{self, Plugins};
use crate::timing::{self, Plan, Samples};

/// `lord note` processes started at once.
pub(crate) const CONCURRENT_NOTES: usize = 100;

/// What 100 concurrent `lord note` processes left.
#[derive(Debug, Clone)]
pub(crate) struct NoteRun {
    /// Notes `lord notes` lists afterwards.
    pub(crate) listed: usize,
    /// `notes.count`, the shared value each note adds one to.
    pub(crate) counted: u64,
    /// Processes that exited with an error (their notes are missing too).
    pub(crate) failed: usize,
    /// From the first start to the last exit.
    pub(crate) wall: Duration,
}

impl NoteRun {
    /// Notes started and not kept: by the list or by the count, whichever
    /// lost more.
    pub(crate) fn loss(&self) -> usize {
        let counted = usize::try_from(self.counted).unwrap_or(usize::MAX);
        CONCURRENT_NOTES.saturating_sub(self.listed.min(counted))
    }
}

/// Both figures, saying on stderr which is being measured.
pub(crate) async fn measure(
    plugins: &Plugins,
    lord: &Path,
    plan: Plan,
) -> Result<(Samples, NoteRun)> {
    eprintln!("lord-bench: state: persistent compare-and-swap ...");
    let data_cas = data_cas(plan).await?;
    eprintln!("lord-bench: state: {CONCURRENT_NOTES} concurrent `lord note` ...");
    let notes = concurrent_notes(plugins, lord).await?;
    Ok((data_cas, notes))
}

/// One persistent compare-and-swap after a versioned read (what
/// `data::update` does when nothing conflicts), through the plugin's
/// scope on a real `state.db`, in one process.
async fn data_cas(plan: Plan) -> Result<Samples> {
    let scratch = tempfile::tempdir()?;
    let db = StateDb::open(scratch.path())?;
    let id = "notes".parse().context("plugin id")?;
    let scope = Scope::new(
        &id,
        ScopeGrants::from_permissions(&[], 1 << 20),
        PluginData::new(db.clone()),
        SharedState::new(db),
        EventBus::new(),
    );
    timing::single(plan, async || {
        let current = scope.data_get_versioned("counter")?;
        let (n, version) = current.map_or((0u64, 0), |v| {
            let n = std::str::from_utf8(&v.value)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            (n, v.version)
        });
        let outcome =
            scope.data_compare_and_swap("counter", version, (n + 1).to_string().into_bytes())?;
        ensure!(
            matches!(outcome, CasOutcome::Swapped(_)),
            "one writer met a conflict: {outcome:?}"
        );
        Ok(())
    })
    .await
}

/// Installs `notes` in a fresh home, then starts [`CONCURRENT_NOTES`]
/// `lord note` processes at once and counts what they left.
async fn concurrent_notes(plugins: &Plugins, lord: &Path) -> Result<NoteRun> {
    let scratch = tempfile::tempdir()?;
    let config = fixtures::host_config(scratch.path(), "home")?;
    let home = config.home.clone();
    let project = config.project_dir.clone();
    {
        let mut framework = Framework::open(config)?;
        fixtures::install(&mut framework, &[plugins.notes()]).await?;
    }
    let command = |args: &[&str]| {
        let mut command = Command::new(lord);
        command
            .args(args)
            .current_dir(&project)
            .env("LORD_HOME", &home)
            .env("LORD_NO_UPDATE_CHECK", "1")
            .env_remove("LORD_FAILPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    };
    // The first run compiles the component into the cache; the rest load it.
    ensure!(
        command(&["notes"]).status()?.success(),
        "`lord notes` failed before the run"
    );
    let started = Instant::now();
    let children = (0..CONCURRENT_NOTES)
        .map(|n| {
            command(&["note", &format!("n{n}")])
                .spawn()
                .context("starting `lord note`")
        })
        .collect::<Result<Vec<_>>>()?;
    let mut failed = 0;
    for child in children {
        let output = child.wait_with_output()?;
        if !output.status.success() {
            failed += 1;
            eprintln!(
                "lord-bench: a concurrent `lord note` failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
    }
    let wall = started.elapsed();
    let listed = command(&["notes"]).stdout(Stdio::piped()).output()?;
    ensure!(listed.status.success(), "`lord notes` failed after the run");
    let listed = String::from_utf8_lossy(&listed.stdout).lines().count();
    let shared = SharedState::new(StateDb::open(&home)?);
    let counted = shared
        .get("notes.count")?
        .and_then(|v| String::from_utf8(v.value).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(NoteRun {
        listed,
        counted,
        failed,
        wall,
    })
}
