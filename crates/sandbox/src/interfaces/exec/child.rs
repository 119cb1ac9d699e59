//! One program run to its end: started directly (no shell) in its own
//! process group, fed its standard input, its output read as it comes and
//! charged to the call's output budget, and the whole group killed when it
//! ends, when the budget runs out, or when the call is dropped at its
//! deadline. The group is what makes a deadline hold: a program's own
//! children (`sh -c 'sleep 600 &'`) share it, so they die with it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};

use crate::output::{OutputBudget, OutputExceeded, Stream};

/// What to run.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) program: PathBuf,
    pub(super) args: Vec<OsString>,
    pub(super) cwd: PathBuf,
    pub(super) env: Vec<(String, String)>,
    pub(super) stdin: Vec<u8>,
    /// `false`: captured and returned; `true`: appended to the plugin's
    /// own standard output and error.
    pub(super) stream: bool,
}

/// How a run ended.
#[derive(Debug, Default)]
pub(super) struct Finished {
    pub(super) status: Option<i32>,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
}

/// Why a run gave no [`Finished`].
#[derive(Debug)]
pub(super) enum Ended {
    /// The output budget ran out: the call fails as over its output limit.
    Budget(OutputExceeded),
    /// The program could not be started or read.
    Failed(String),
}

/// Kills a process group when dropped: at the end of a run, and when the
/// call's future is dropped at its deadline.
struct Group(Option<rustix::process::Pid>);

impl Group {
    fn kill(&self) {
        if let Some(pid) = self.0 {
            // The group may be gone already (ESRCH): nothing to do then.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `plan` to its end, charging what it writes to `budget`.
pub(super) async fn run(plan: Plan, budget: &OutputBudget) -> Result<Finished, Ended> {
    let mut command = tokio::process::Command::new(&plan.program);
    command
        .args(&plan.args)
        .current_dir(&plan.cwd)
        .env_clear()
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .stdin(if plan.stdin.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so the deadline reaches every process it starts.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|e| Ended::Failed(format!("could not start `{}`: {e}", plan.program.display())))?;
    let group = Group(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(rustix::process::Pid::from_raw),
    );
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let feed = async move {
        if let Some(mut pipe) = stdin {
            // A program that exits without reading its input is not an
            // error of the run.
            let _ = pipe.write_all(&plan.stdin).await;
        }
        Ok::<(), Ended>(())
    };
    let wait = async {
        let status = child
            .wait()
            .await
            .map_err(|e| Ended::Failed(format!("waiting for the program failed: {e}")))?;
        // The program is done: whatever it left running in its group goes
        // too, which also closes the pipes the reads below wait on.
        group.kill();
        Ok::<_, Ended>(status.code())
    };
    let (status, out, err, ()) = tokio::try_join!(
        wait,
        drain(stdout, budget, Stream::Stdout, plan.stream),
        drain(stderr, budget, Stream::Stderr, plan.stream),
        feed
    )?;
    Ok(Finished {
        status,
        stdout: out,
        stderr: err,
    })
}

/// Reads one stream to its end, charging the budget as bytes come.
async fn drain(
    pipe: Option<impl AsyncRead + Unpin>,
    budget: &OutputBudget,
    stream: Stream,
    passthrough: bool,
) -> Result<Vec<u8>, Ended> {
    let Some(mut pipe) = pipe else {
        return Ok(Vec::new());
    };
    let mut kept = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = pipe
            .read(&mut chunk)
            .await
            .map_err(|e| Ended::Failed(format!("reading the program's output failed: {e}")))?;
        if n == 0 {
            return Ok(kept);
        }
        let bytes = &chunk[..n];
        if passthrough {
            budget.push_stream(stream, bytes).map_err(Ended::Budget)?;
        } else {
            budget.charge(n).map_err(Ended::Budget)?;
            kept.extend_from_slice(bytes);
        }
    }
}
