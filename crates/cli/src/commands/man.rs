//! `lord man`: lord's man page in roff on standard output, generated from
//! the same command tree as `--help` (the installed plugins' commands are
//! listed with lord's own). Packagers install it as `lord.1`:
//! `lord man > lord.1`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_host::Framework;

use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct ManArgs {}

pub(crate) fn run(out: &Output, framework: &Framework, _args: ManArgs) -> Result<ExitCode> {
    let tree = crate::cli::command_tree(framework)?.command;
    let mut page = Vec::new();
    clap_mangen::Man::new(tree).render(&mut page)?;
    out.text(&String::from_utf8_lossy(&page))?;
    Ok(ExitCode::SUCCESS)
}
