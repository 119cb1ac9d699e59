//! The `updater` plugin: `lord update OPERATION [ARGS] [--json]` keeps a
//! project generated from a template repository up to date. The project
//! records its template and tag in `.lord-template.toml`; the template's
//! tags are semantic versions, read through the user's git
//! (`exec(git)`); the project's files are read and written through its
//! granted folder. Text for people, `--json` for scripts.

mod apply;
mod diff;
mod files;
mod ops;
mod plan;
mod record;
mod template;
mod version;

use lord_pdk::{Command, Plugin};

struct Updater;

impl Plugin for Updater {
    fn run_command(command: Command) -> Result<String, String> {
        let args: Vec<&str> = command.values("args").iter().map(String::as_str).collect();
        let request = ops::Request::parse(&args)?;
        let answer = request.run()?;
        Ok(if request.json {
            format!("{}\n", answer.json)
        } else {
            answer.text
        })
    }
}

lord_pdk::export_plugin!(Updater);
