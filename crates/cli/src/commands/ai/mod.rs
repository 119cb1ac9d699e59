//! `lord ai`: the `ai` provider's commands over `lord-ai`. Profiles
//! (`add`, `remove`, `profiles`, `models`), one-shot prompts that work in
//! pipes (`prompt`), a REPL (`chat`), sessions continued with `-c`, the
//! searchable prompt log (`logs`), templates and roles, chains, A/B tests
//! and the price table.

mod ab;
mod ask;
mod chat;
mod manage;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use lord_host::Framework;

use crate::context::Context;
use crate::render::Output;

pub(crate) use ask::AskArgs;

#[derive(Debug, Subcommand)]
pub(crate) enum AiCommand {
    /// Add (or replace) a profile: a named AI service with its URL, default
    /// model and the `lord secret` holding its key.
    Add {
        /// The profile's name, what `ai(NAME)` grants plugins.
        name: String,
        /// openai (and OpenAI-compatible servers), anthropic, ollama,
        /// huggingface or gemini.
        #[arg(long)]
        kind: String,
        /// The service's base URL (default: the service's own).
        #[arg(long)]
        url: Option<String>,
        /// The model used when a request names none.
        #[arg(long)]
        model: Option<String>,
        /// The `lord secret` holding the key (default `AI_<NAME>_KEY`).
        #[arg(long)]
        key_secret: Option<String>,
        /// The most tokens a reply may have unless a request says.
        #[arg(long)]
        max_tokens: Option<u32>,
    },
    /// Remove a profile (its key stays in `lord secret`).
    Remove { name: String },
    /// The profiles, with whether each one's key is stored.
    Profiles {
        #[arg(long)]
        json: bool,
    },
    /// The models a profile's service offers; with --check, whether it
    /// offers one (exit 1 when it does not).
    Models {
        /// The AI profile (default `ai.default-profile`, or the only one).
        #[arg(id = "ai_profile", long = "ai-profile", short = 'P')]
        profile: Option<String>,
        /// A model to look for (the profile's own when given no name).
        #[arg(long, num_args = 0..=1, default_missing_value = "")]
        check: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Ask once. The prompt is the arguments, standard input, or both
    /// (the input after the arguments), so it works in pipes.
    Prompt(AskArgs),
    /// Talk with a model: a REPL with history and multi-line input (end a
    /// line with `\` to go on; `/help` lists the commands).
    Chat(chat::ChatArgs),
    /// The sessions kept, newest first.
    Sessions {
        #[arg(long)]
        json: bool,
    },
    /// Forget a session.
    Forget { session: String },
    /// Logged exchanges, newest first.
    Logs(manage::LogsArgs),
    /// Prompt templates (minijinja, with defaults for their variables).
    #[command(subcommand)]
    Template(manage::TemplateCommand),
    /// Roles: named system prompts.
    #[command(subcommand)]
    Role(manage::RoleCommand),
    /// Run templates one after another, each reply becoming the next
    /// template's `input` variable.
    Chain(ask::ChainArgs),
    /// Compare two templates over a set of inputs: latency, tokens, cost
    /// and your ratings, side by side.
    #[command(subcommand)]
    Ab(ab::AbCommand),
    /// The price table the cost meter reads.
    #[command(subcommand)]
    Price(manage::PriceCommand),
}

/// Options shared by the commands that send requests.
#[derive(Debug, Clone, Args)]
pub(crate) struct Target {
    /// The AI profile to ask (default `ai.default-profile`, or the only
    /// one). Not `--profile`: that chooses lord's configuration profile.
    #[arg(id = "ai_profile", long = "ai-profile", short = 'P')]
    pub(crate) profile: Option<String>,
    /// The model (default: the profile's).
    #[arg(long, short = 'm')]
    pub(crate) model: Option<String>,
    #[arg(long)]
    pub(crate) max_tokens: Option<u32>,
    #[arg(long)]
    pub(crate) temperature: Option<f32>,
    /// A seed, for services that take one (repeatable comparisons).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    command: AiCommand,
) -> Result<ExitCode> {
    match command {
        AiCommand::Add {
            name,
            kind,
            url,
            model,
            key_secret,
            max_tokens,
        } => manage::add(
            out,
            framework,
            manage::NewProfile {
                name,
                kind,
                url,
                model,
                key_secret,
                max_tokens,
            },
        )?,
        AiCommand::Remove { name } => manage::remove(out, framework, &name)?,
        AiCommand::Profiles { json } => manage::profiles(out, framework, json)?,
        AiCommand::Models {
            profile,
            check,
            json,
        } => return manage::models(out, framework, profile, check, json).await,
        AiCommand::Prompt(args) => return ask::prompt(ctx, out, framework, args).await,
        AiCommand::Chat(args) => chat::run(ctx, out, framework, args).await?,
        AiCommand::Sessions { json } => manage::sessions(out, framework, json)?,
        AiCommand::Forget { session } => manage::forget(out, framework, &session)?,
        AiCommand::Logs(args) => manage::logs(out, framework, args)?,
        AiCommand::Template(cmd) => manage::template(out, framework, cmd)?,
        AiCommand::Role(cmd) => manage::role(out, framework, cmd)?,
        AiCommand::Chain(args) => ask::chain(out, framework, args).await?,
        AiCommand::Ab(cmd) => ab::run(ctx, out, framework, cmd).await?,
        AiCommand::Price(cmd) => manage::price(out, framework, cmd)?,
    }
    Ok(ExitCode::SUCCESS)
}
