//! The `git` plugin: `lord git OPERATION [ARGS] [--json]`, each operation
//! one or two runs of the user's git through `lord:plugin/exec` (granted
//! `exec(git)` and the project). Text for people, `--json` for scripts; a
//! failure names the git command that failed and what git said.

mod ops;
mod status;

use lord_pdk::{Command, Plugin};

struct Git;

impl Plugin for Git {
    fn run_command(command: Command) -> Result<String, String> {
        let mut args: Vec<&str> = command.values("args").iter().map(String::as_str).collect();
        let json = args.contains(&"--json");
        args.retain(|a| *a != "--json");
        let Some((&op, rest)) = args.split_first() else {
            return Err(ops::USAGE.to_owned());
        };
        let answer = ops::run(op, rest)?;
        Ok(if json {
            format!("{}\n", answer.json)
        } else {
            answer.text
        })
    }
}

lord_pdk::export_plugin!(Git);
