//! `lord`: the reference CLI over lord-host. Each command file parses its
//! arguments, calls one framework operation and renders the result; no logic
//! lives here.
//!
//! Exit codes: 0 success; 1 lord itself failed (I/O, database); 2 the user
//! asked for something that cannot be done (bad input, refused plugin,
//! unknown command); 3 a plugin failed (trap, limit, refused access, or its
//! own error).

mod cli;
mod commands;
mod consent;
mod context;
mod render;
mod updates;
mod usage;

use std::process::ExitCode;

use lord_host::HostError;

fn main() -> ExitCode {
    // Detected first, so that even an error reading the rest of the
    // context is rendered by the same rules.
    let terminal = context::Terminal::detect();
    let out = render::Output::new(terminal);
    match run(terminal, &out) {
        Ok(code) => code,
        Err(error) => {
            out.error(&error);
            ExitCode::from(exit_code(&error))
        }
    }
}

fn run(terminal: context::Terminal, out: &render::Output) -> anyhow::Result<ExitCode> {
    let ctx = context::Context::from_process(terminal)?;
    // Time for deadlines, I/O for the sockets a `net` grant lets a plugin
    // open: WASI runs both on this runtime. Pipelines fan out over every
    // core; everything else runs on one thread and starts faster.
    let runtime = if ctx.wants_parallelism() {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    runtime
        .block_on(cli::dispatch(&ctx, out))
        .map_err(|error| name_a_full_disk(error, &ctx))
}

/// A write refused for lack of space says so, with the folder, instead of
/// the "disk I/O error" SQLite reports. Every write lord makes is atomic,
/// so the refused one changed nothing. The error rarely says which device
/// was full: when the one holding `$LORD_HOME` still has room, it was
/// another the command wrote to (a backup's destination, say), and the
/// message does not send the user to free space in the wrong place.
fn name_a_full_disk(error: anyhow::Error, ctx: &context::Context) -> anyhow::Error {
    if !lord_host::is_no_space(error.as_ref()) {
        return error;
    }
    let home = ctx.home.display();
    match free_bytes(&ctx.home) {
        Some(free) if free >= ROOM => error.context(format!(
            "no space left on the device the command was writing to (the one holding \
             `$LORD_HOME`, `{home}`, has {} GiB free); nothing was changed: free some space \
             there and run the command again",
            free >> 30
        )),
        Some(_) | None => error.context(format!(
            "no space left on the device holding `$LORD_HOME` (`{home}`); nothing was changed: \
             free some space there (or move LORD_HOME) and run the command again"
        )),
    }
}

/// Free space below which a full device is taken to be `$LORD_HOME`'s:
/// more than any one of lord's own writes needs, a package of the most
/// lord opens (256 MiB) unpacked beside its archive included, since a
/// refused write's file is gone by the time the space is read.
const ROOM: u64 = 1 << 30;

/// The bytes an unprivileged user may still write on the filesystem
/// holding `path`.
fn free_bytes(path: &std::path::Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(path).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Sorts an error into the documented exit codes.
fn exit_code(error: &anyhow::Error) -> u8 {
    match error.downcast_ref::<HostError>() {
        Some(e) if e.is_plugin_failure() => 3,
        Some(e) if e.is_user_error() => 2,
        Some(_) => 1,
        None if error.downcast_ref::<cli::UsageError>().is_some()
            || error
                .downcast_ref::<commands::scan::CouldNotScan>()
                .is_some() =>
        {
            2
        }
        None if error
            .downcast_ref::<lord_package::PackageError>()
            .is_some_and(lord_package::PackageError::is_user_error) =>
        {
            2
        }
        None if error
            .downcast_ref::<lord_registry_client::ClientError>()
            .is_some_and(lord_registry_client::ClientError::is_user_error) =>
        {
            2
        }
        None => error
            .downcast_ref::<commands::pipe::PipelineFailed>()
            .map_or(1, commands::pipe::PipelineFailed::exit_code),
    }
}
