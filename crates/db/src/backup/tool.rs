//! The engines' own dump and load programs (`pg_dump`, `pg_restore`,
//! `mariadb-dump`, `mariadb`): finding them, reading their versions, and
//! running them with the password in their environment, never on their
//! command line, and their standard output streamed into a file while it
//! is counted.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{BackupError, Step};

/// A program and the version it reports.
#[derive(Debug, Clone)]
pub(super) struct Tool {
    pub(super) path: PathBuf,
    /// Its `--version` line, as printed.
    pub(super) banner: String,
    /// The numbers of its version (`15.10` → `[15, 10]`).
    pub(super) version: Vec<u64>,
}

/// The numbers at the start of the first word of `text` that starts with a
/// digit: `pg_dump (PostgreSQL) 15.10 (Debian …)` → `[15, 10]`,
/// `10.11.14-MariaDB-0+deb12u2` → `[10, 11, 14]`.
pub(super) fn version_numbers(text: &str) -> Vec<u64> {
    let word = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or_default();
    word.split('.')
        .map_while(|part| {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// Every program of `names` found in `dirs` and then on the `PATH`
/// (`path_var`) that answers `--version`, with its version, in that order.
pub(super) fn find(names: &[&str], dirs: &[PathBuf], path_var: Option<&str>) -> Vec<Tool> {
    let mut places: Vec<PathBuf> = dirs.to_vec();
    places.extend(std::env::split_paths(path_var.unwrap_or_default()));
    let mut found = Vec::new();
    for dir in places {
        for name in names {
            let path = dir.join(name);
            if !path.is_file() || found.iter().any(|t: &Tool| t.path == path) {
                continue;
            }
            if let Some(tool) = probe(&path) {
                found.push(tool);
            }
        }
    }
    found
}

/// Runs `path --version`; `None` when it does not run.
fn probe(path: &Path) -> Option<Tool> {
    let output = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let banner = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    // `mariadb-dump  Ver 10.19 Distrib 10.11.14-MariaDB`: the distribution's
    // version is the server's, the `Ver` is the program's own.
    let numbers = match banner.split_once("Distrib ") {
        Some((_, rest)) => version_numbers(rest),
        None => version_numbers(&banner),
    };
    (output.status.success() && !numbers.is_empty()).then(|| Tool {
        path: path.to_owned(),
        banner,
        version: numbers,
    })
}

/// Runs `command` with its standard output written to `out`, reporting
/// bytes as they come, and returns how many it wrote; fails with the program's own error output when it
/// exits unsuccessfully. `what` names it in messages.
pub(super) fn stream_out(
    mut command: Command,
    what: &str,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<u64, BackupError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| BackupError::Tool {
        tool: what.to_owned(),
        message: format!("could not start it: {e}"),
    })?;
    let stderr = child.stderr.take().map(drain);
    let mut stdout = child.stdout.take().ok_or_else(|| BackupError::Tool {
        tool: what.to_owned(),
        message: "its output could not be read".to_owned(),
    })?;
    let mut bytes = 0u64;
    let mut buffer = vec![0u8; 1 << 16];
    let copied: std::io::Result<()> = (|| {
        loop {
            let n = stdout.read(&mut buffer)?;
            if n == 0 {
                return Ok(());
            }
            out.write_all(&buffer[..n])?;
            bytes += n as u64;
            progress(Step::Bytes {
                done: bytes,
                total: None,
            });
        }
    })();
    if copied.is_err() {
        // Writing failed (a full disk): the program would block on its full
        // pipe for ever, so it is stopped before it is waited for.
        drop(stdout);
        let _ = child.kill();
    }
    let status = child.wait();
    let errors = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    if copied.is_ok() {
        finish(what, status, &errors)?;
    }
    copied.map_err(|source| BackupError::Io {
        what: format!("writing what {what} dumped"),
        source,
    })?;
    Ok(bytes)
}

/// Runs `command` with `input` (of `total` bytes) on its standard input,
/// reporting bytes as they go; its standard output is returned.
pub(super) fn stream_in(
    mut command: Command,
    what: &str,
    input: &mut dyn Read,
    total: u64,
    progress: &mut dyn FnMut(Step<'_>),
) -> Result<String, BackupError> {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| BackupError::Tool {
        tool: what.to_owned(),
        message: format!("could not start it: {e}"),
    })?;
    let stderr = child.stderr.take().map(drain);
    let stdout = child.stdout.take().map(drain);
    let mut stdin = child.stdin.take();
    let mut buffer = vec![0u8; 1 << 16];
    let mut done = 0u64;
    // A program that stops reading (it failed) ends the copy; its exit
    // status and error output then say why.
    while let Some(pipe) = stdin.as_mut() {
        let n = match input.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(source) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(BackupError::Io {
                    what: "reading the backup".to_owned(),
                    source,
                });
            }
        };
        if pipe.write_all(&buffer[..n]).is_err() {
            break;
        }
        done += n as u64;
        progress(Step::Bytes {
            done,
            total: Some(total),
        });
    }
    drop(stdin);
    let status = child.wait();
    let errors = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    finish(what, status, &errors)?;
    Ok(stdout.and_then(|h| h.join().ok()).unwrap_or_default())
}

/// A [`stream_in`] error from reading its input as the backup's, judged
/// as [`archive::changed`] judges a read of the dump: one that failed its
/// checks on the way is a corrupt backup at `path`.
pub(super) fn from_input(e: BackupError, path: &std::path::Path) -> BackupError {
    let BackupError::Io { what, source } = e else {
        return e;
    };
    super::archive::changed(path, source, &what)
}

fn finish(
    what: &str,
    status: std::io::Result<std::process::ExitStatus>,
    errors: &str,
) -> Result<(), BackupError> {
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(BackupError::Tool {
            tool: what.to_owned(),
            message: format!("{status}: {}", errors.trim()),
        }),
        Err(e) => Err(BackupError::Tool {
            tool: what.to_owned(),
            message: e.to_string(),
        }),
    }
}

/// Reads a pipe to its end on a thread of its own, so neither pipe of a
/// child can fill and stall it.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A destination that takes `room` bytes, then fails as a full disk does.
    struct Full {
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::other("no space left on device"));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_dump_that_cannot_be_written_ends_instead_of_hanging() {
        let (sent, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // `yes` writes until its pipe is closed.
            let result = stream_out(
                Command::new("yes"),
                "yes",
                &mut Full { room: 1 << 20 },
                &mut |_| {},
            );
            let _ = sent.send(result);
        });
        let result = received
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the dump ended");
        let error = result.expect_err("the write failed");
        assert!(
            matches!(error, BackupError::Io { .. }) && error.to_string().contains("no space"),
            "{error}"
        );
    }

    #[test]
    fn versions_are_read_from_banners() {
        assert_eq!(
            version_numbers("pg_dump (PostgreSQL) 15.10 (Debian 15.10-0+deb12u1)"),
            [15, 10]
        );
        assert_eq!(version_numbers("10.11.14-MariaDB-0+deb12u2"), [10, 11, 14]);
        assert_eq!(version_numbers("8.0.36"), [8, 0, 36]);
        assert!(version_numbers("none").is_empty());
    }
}
