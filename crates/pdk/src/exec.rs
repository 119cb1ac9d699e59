//! Running a program on the host: `exec(PROGRAM)` in the manifest, then
//! [`Command`]. The host runs the one file it resolved `PROGRAM` to when
//! it granted it (no shell, no `PATH` search), in a folder inside the
//! plugin's grants, with only granted variables, under the call's deadline
//! and output budget.
//!
//! ```no_run
//! let out = lord_pdk::exec::Command::new("git").args(["status", "--porcelain=v2"]).run()?;
//! if !out.success() {
//!     return Err(out.stderr_text());
//! }
//! # Ok::<(), String>(())
//! ```

use crate::bindings::lord::plugin::exec as host;

/// A program to run, built up and then [`run`](Command::run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    program: String,
    args: Vec<String>,
    cwd: Option<String>,
    env: Vec<(String, String)>,
    stdin: Vec<u8>,
    stream: bool,
}

/// What a program did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The exit code; `None` when a signal ended it.
    pub status: Option<i32>,
    /// Empty when streamed.
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    /// Whether it exited with code 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl Command {
    /// The program by the name granted: `git` for `exec(git)`.
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            stdin: Vec::new(),
            stream: false,
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The working folder as the plugin sees it (`/project/sub`), inside a
    /// granted folder; the plugin's own working folder by default.
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets a variable; the plugin needs `env(NAME)` for it.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Bytes for the program's standard input.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = bytes.into();
        self
    }

    /// Sends the program's output to the plugin's own standard output and
    /// error (which the user sees) instead of returning it.
    pub fn stream(mut self) -> Self {
        self.stream = true;
        self
    }

    /// Runs the program to its end. `Err` when the host refused it or
    /// could not start it; a program that failed is `Ok` with its status.
    pub fn run(self) -> Result<Output, String> {
        let out = host::run(&host::Command {
            program: self.program,
            args: self.args,
            cwd: self.cwd,
            env: self.env,
            stdin: self.stdin,
            output: if self.stream {
                host::OutputMode::Stream
            } else {
                host::OutputMode::Capture
            },
        })?;
        Ok(Output {
            status: out.status,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}
