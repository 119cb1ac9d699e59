//! `lord approval submit|review|status`: a published version goes through
//! the registry's approval workflow (steps with reviewers, a quorum, a
//! timeout and criteria the registry checks), and anyone reads where it
//! stands. Submitting needs a token whose scope covers the plugin,
//! reviewing a reviewer's token; both come from `LORD_REGISTRY_TOKEN`
//! (never argv), as publishing does. A policy that requires approval
//! (`resource has approved && resource.approved`) reads the same state at
//! install.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use lord_host::Framework;
use lord_registry_client::{ApprovalInfo, ApprovalReview, ApprovalSubmit};

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::{Output, foreign};

#[derive(Debug, Subcommand)]
pub(crate) enum ApprovalCommand {
    /// Submit VERSION of PLUGIN (published already) for approval.
    Submit {
        plugin: String,
        #[arg(value_name = "VERSION")]
        release: String,
        #[arg(long)]
        registry: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Approve or reject the current step of request ID.
    Review {
        /// The request's id (`lord approval status` lists them).
        id: String,
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        approve: bool,
        #[arg(long)]
        reject: bool,
        /// Why, recorded with the verdict.
        #[arg(long, default_value = "")]
        comment: String,
        #[arg(long)]
        registry: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Where approval requests stand: who decided what, and when.
    Status {
        /// Only this plugin's.
        plugin: Option<String>,
        /// Only this version's.
        #[arg(value_name = "VERSION", requires = "plugin")]
        release: Option<String>,
        #[arg(long)]
        registry: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn token(ctx: &Context) -> Result<String, UsageError> {
    ctx.env
        .iter()
        .find(|(k, _)| k == "LORD_REGISTRY_TOKEN")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| {
            UsageError(
                "set LORD_REGISTRY_TOKEN to a token of the registry: one whose scope covers the \
                 plugin to submit it, a reviewer's to review"
                    .to_owned(),
            )
        })
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    command: ApprovalCommand,
) -> Result<ExitCode> {
    match command {
        ApprovalCommand::Submit {
            plugin,
            release,
            registry,
            json,
        } => {
            let token = token(ctx)?;
            let client = super::registry_client(framework, registry)?;
            let submit = ApprovalSubmit {
                plugin,
                version: release,
            };
            let info = client.submit_approval(&token, &submit).await?;
            render(out, &[info], json, "submitted")?;
        }
        ApprovalCommand::Review {
            id,
            approve,
            reject: _,
            comment,
            registry,
            json,
        } => {
            let token = token(ctx)?;
            let client = super::registry_client(framework, registry)?;
            let review = ApprovalReview { approve, comment };
            let info = client.review_approval(&token, &id, &review).await?;
            render(
                out,
                &[info],
                json,
                if approve { "approved" } else { "rejected" },
            )?;
        }
        ApprovalCommand::Status {
            plugin,
            release,
            registry,
            json,
        } => {
            let client = super::registry_client(framework, registry)?;
            let all = client
                .approvals(plugin.as_deref(), release.as_deref())
                .await?;
            render(out, &all, json, "")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render(out: &Output, all: &[ApprovalInfo], json: bool, done: &str) -> Result<()> {
    if json {
        return match (done.is_empty(), all) {
            (false, [one]) => out.json(one),
            _ => out.json(&all),
        };
    }
    if all.is_empty() {
        out.status("no approval requests");
        return Ok(());
    }
    let mut text = String::new();
    for a in all {
        let steps: Vec<String> = a
            .workflow
            .steps
            .iter()
            .map(|s| format!("{} ({} of)", foreign(&s.name), s.quorum))
            .collect();
        let at = a
            .workflow
            .steps
            .get(a.step)
            .map_or_else(|| "done".to_owned(), |s| format!("at {}", foreign(&s.name)));
        text.push_str(&format!(
            "{}  {} {}  {}  {at}  steps: {}  submitted by {}\n",
            foreign(&a.id),
            foreign(&a.plugin),
            foreign(&a.version),
            a.state.as_str(),
            steps.join(" → "),
            foreign(&a.submitted_by),
        ));
        for d in &a.decisions {
            text.push_str(&format!(
                "    {} {} {} at {}{}\n",
                foreign(&d.step),
                foreign(&d.reviewer),
                if d.approve { "approved" } else { "rejected" },
                stamp(d.at_ms),
                if d.comment.is_empty() {
                    String::new()
                } else {
                    format!(": {}", foreign(&d.comment))
                }
            ));
        }
        if let Some(reason) = &a.reason {
            text.push_str(&format!("    why: {}\n", foreign(reason)));
        }
    }
    if !done.is_empty() {
        out.status(format_args!("{done}: request {}", foreign(&all[0].id)));
    }
    out.text(&text)?;
    Ok(())
}

/// A time in milliseconds since the epoch, as UTC to the second.
fn stamp(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| ms.to_string(),
        |t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}
