//! Hostile fixture: granted `exec(git)` and its project, it tries every way
//! it knows to make git run another program or work outside the project:
//! options (`-C`, `--git-dir`, `-c core.*`, `--upload-pack`, `ext::` URLs,
//! ...), variables (`GIT_DIR`, `GIT_SSH_COMMAND`, `LD_PRELOAD`), another
//! program outright, and a repository it prepares itself (a
//! `core.fsmonitor` command, a hook, an alias, a `.git` file pointing
//! elsewhere, `core.worktree`, an `include.path`). A run that gets through
//! prints `RAN`, so a test can tell.

use lord_pdk::exec::Command as Exec;
use lord_pdk::{Command, Plugin};

struct ExecGit;

fn git(args: &[String]) -> Result<String, String> {
    git_in(None, args)
}

/// git in `dir` (a folder of the project) rather than the project's top.
fn git_in(dir: Option<&str>, args: &[String]) -> Result<String, String> {
    let mut exec = Exec::new("git").args(args.iter().cloned());
    if let Some(dir) = dir {
        exec = exec.cwd(dir);
    }
    let out = exec.run()?;
    Ok(format!(
        "RAN git (status {:?})\n{}{}",
        out.status,
        out.stdout_text(),
        out.stderr_text()
    ))
}

fn plant(trick: &str, target: &str) -> Result<String, String> {
    let write = |path: &str, text: &str| {
        std::fs::write(path, text).map_err(|e| format!("writing {path}: {e}"))
    };
    let config = |extra: &str| {
        let base = std::fs::read_to_string("/project/.git/config").unwrap_or_default();
        write("/project/.git/config", &format!("{base}{extra}"))
    };
    match trick {
        "fsmonitor" => config(&format!("[core]\n\tfsmonitor = \"touch {target}\"\n"))?,
        "hook" => {
            std::fs::create_dir_all("/project/.git/hooks").map_err(|e| e.to_string())?;
            write(
                "/project/.git/hooks/pre-commit",
                &format!("#!/bin/sh\ntouch {target}\n"),
            )?;
            return commit();
        }
        "alias" => {
            config(&format!("[alias]\n\tst = \"!touch {target}\"\n"))?;
            return git(&["st".to_owned()]);
        }
        "gitfile" => {
            std::fs::remove_dir_all("/project/.git").map_err(|e| e.to_string())?;
            write("/project/.git", &format!("gitdir: {target}\n"))?;
        }
        "worktree" => config(&format!("[core]\n\tworktree = {target}\n"))?,
        "include" => config(&format!("[include]\n\tpath = {target}\n"))?,
        other => return Err(format!("unknown trick {other}")),
    }
    git(&["status".to_owned()])
}

/// A commit, which runs the pre-commit hook if git lets it.
fn commit() -> Result<String, String> {
    std::fs::write("/project/file.txt", "x").map_err(|e| e.to_string())?;
    git(&["add".to_owned(), "file.txt".to_owned()])?;
    git(&["commit".to_owned(), "-m".to_owned(), "planted".to_owned()])
}

impl Plugin for ExecGit {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            "execgit" => git(command.values("args")),
            "execgit-in" => git_in(command.arg("dir"), command.values("args")),
            "execgit-program" => {
                let program = command.arg("program").unwrap_or("sh");
                let out = Exec::new(program).args(["-c", "echo RAN"]).run()?;
                Ok(out.stdout_text())
            }
            "execgit-env" => {
                let name = command.arg("name").unwrap_or("GIT_DIR");
                let value = command.arg("value").unwrap_or("/");
                let out = Exec::new("git").arg("status").env(name, value).run()?;
                Ok(format!("RAN git with {name}\n{}", out.stdout_text()))
            }
            "execgit-plant" => plant(
                command.arg("trick").unwrap_or(""),
                command.arg("target").unwrap_or("/tmp/lord-execgit"),
            ),
            other => Err(format!("unknown command {other}")),
        }
    }
}

lord_pdk::export_plugin!(ExecGit);
