//! `lord plugin list`: installed plugins and first-party providers, as a
//! table or JSON, optionally filtered by state and risk.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_host::{Framework, PluginFilter, PluginState};
use lord_manifest::RiskLevel;

use crate::cli::UsageError;
use crate::render::{self, Output};

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[arg(long)]
    json: bool,
    /// Only plugins in this state (installed, enabled, disabled, failed).
    #[arg(long)]
    state: Option<String>,
    /// Only plugins at or above this risk (low, medium, high, critical).
    #[arg(long)]
    min_risk: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Request {
    filter: PluginFilter,
    json: bool,
}

pub(crate) fn parse(args: ListArgs) -> Result<Request, UsageError> {
    Ok(Request {
        filter: PluginFilter {
            state: args
                .state
                .map(|s| s.parse::<PluginState>().map_err(UsageError))
                .transpose()?,
            min_risk: args
                .min_risk
                .map(|r| {
                    r.parse::<RiskLevel>()
                        .map_err(|e| UsageError(e.to_string()))
                })
                .transpose()?,
            category: None,
        },
        json: args.json,
    })
}

pub(crate) fn run(out: &Output, framework: &Framework, request: Request) -> Result<ExitCode> {
    let filter = &request.filter;
    let plugins = framework.list(filter)?;
    // Providers carry no risk of their own: a risk filter leaves them out,
    // a state filter applies to them too.
    let natives: Vec<_> = framework
        .natives()?
        .into_iter()
        .filter(|n| filter.min_risk.is_none() && filter.state.is_none_or(|s| s == n.state))
        .collect();
    if request.json {
        let list: Vec<_> = plugins
            .iter()
            .map(render::plugin_json)
            .chain(natives.iter().map(render::native_json))
            .collect();
        out.json(&list)?;
    } else {
        out.text(&render::plugin_table(&plugins, &natives))?;
    }
    Ok(ExitCode::SUCCESS)
}
