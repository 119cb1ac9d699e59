//! `lord completions SHELL`: a completion script for bash, zsh, fish,
//! PowerShell or elvish on standard output, generated from the same
//! command tree as `--help`, so the installed plugins' commands complete
//! too. Regenerate it after installing or removing a plugin.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use clap_complete::Shell;
use lord_host::Framework;

use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete in.
    shell: Shell,
}

pub(crate) fn run(out: &Output, framework: &Framework, args: CompletionsArgs) -> Result<ExitCode> {
    let mut tree = crate::cli::command_tree(framework)?.command;
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut tree, "lord", &mut script);
    out.text(&String::from_utf8_lossy(&script))?;
    Ok(ExitCode::SUCCESS)
}
