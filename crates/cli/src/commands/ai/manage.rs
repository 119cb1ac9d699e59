//! The `lord ai` commands that keep things rather than ask: profiles,
//! sessions, the log, templates, roles and prices.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};
use lord_ai::{Client, ExchangeFilter, Library, Price, Prices, RetryPolicy, Template};
use lord_config::{remove_in_file, set_checked};
use lord_host::{Framework, HostError};
use serde_json::json;

use crate::cli::UsageError;
use crate::render::{Output, foreign};

/// What `lord ai add` writes.
pub(crate) struct NewProfile {
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) url: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) key_secret: Option<String>,
    pub(crate) max_tokens: Option<u32>,
}

/// A TOML string literal.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// The user's own configuration file: profiles are never a project's
/// (a project may not say where keys are sent).
fn config_path(framework: &Framework) -> Result<std::path::PathBuf> {
    let path = framework.config_sources().user.clone();
    Ok(path.ok_or_else(|| UsageError("no configuration file to write to".to_owned()))?)
}

/// Writes the profile as one inline table (one atomic write), then checks
/// the whole configuration still holds; if not, the file goes back.
pub(crate) fn add(out: &Output, framework: &Framework, profile: NewProfile) -> Result<()> {
    let path = config_path(framework)?;
    let mut fields = vec![format!("kind = {}", quoted(&profile.kind))];
    if let Some(url) = &profile.url {
        fields.push(format!("url = {}", quoted(url.trim_end_matches('/'))));
    }
    if let Some(model) = &profile.model {
        fields.push(format!("model = {}", quoted(model)));
    }
    if let Some(secret) = &profile.key_secret {
        fields.push(format!("key-secret = {}", quoted(secret)));
    }
    if let Some(max) = profile.max_tokens {
        fields.push(format!("max-tokens = {max}"));
    }
    let key = format!("ai.profiles.{}", profile.name);
    let value = format!("{{ {} }}", fields.join(", "));
    // Written only once the whole configuration is known to hold with it.
    if let Err(problem) = set_checked(framework.config_sources(), &path, &key, &value, |_| Ok(()))
        .map_err(HostError::from)?
    {
        return Err(UsageError(format!("not added: {problem}")).into());
    }
    out.status(format_args!(
        "added the AI profile `{}` to {}",
        profile.name,
        path.display()
    ));
    let secret = profile
        .key_secret
        .unwrap_or_else(|| lord_host::provider::ai::default_key_secret(&profile.name));
    if framework.channels().secrets.get(&secret)?.is_none() {
        out.note(format_args!(
            "no key is stored for it; if the service needs one, run `lord secret set {secret}`"
        ));
    }
    Ok(())
}

pub(crate) fn remove(out: &Output, framework: &Framework, name: &str) -> Result<()> {
    let path = config_path(framework)?;
    match remove_in_file(&path, &format!("ai.profiles.{name}")).map_err(HostError::from)? {
        Some(_) => out.status(format_args!(
            "removed the AI profile `{name}` from {}",
            path.display()
        )),
        None => {
            return Err(UsageError(format!(
                "{} holds no AI profile `{name}`; see `lord ai profiles`",
                path.display()
            ))
            .into());
        }
    }
    Ok(())
}

pub(crate) fn profiles(out: &Output, framework: &Framework, json: bool) -> Result<()> {
    let profiles = framework.ai_profiles()?;
    if json {
        return out.json(&profiles);
    }
    if profiles.is_empty() {
        out.line("no AI profiles; add one with `lord ai add NAME --kind KIND --url URL`")?;
    }
    for p in &profiles {
        out.line(format_args!(
            "{:<16} {:<12} {:<40} model {:<24} key {}{}",
            p.name,
            p.kind.as_str(),
            foreign(&p.url),
            p.model
                .as_deref()
                .map(foreign)
                .map(|m| m.to_string())
                .unwrap_or_else(|| "-".into()),
            if p.key_stored { "stored" } else { "none" },
            if p.enabled {
                ""
            } else {
                " (its provider is disabled)"
            },
        ))?;
    }
    Ok(())
}

pub(crate) async fn models(
    out: &Output,
    framework: &Framework,
    profile: Option<String>,
    check: Option<String>,
    json: bool,
) -> Result<ExitCode> {
    let name = match profile {
        Some(name) => name,
        None => framework.ai_default_profile()?,
    };
    let (endpoint, _) = framework.ai_endpoint(&name)?;
    let client = Client::new(RetryPolicy::default(), Duration::from_secs(30))?;
    let models = client.models(&endpoint).await?;
    if let Some(wanted) = check {
        let wanted = match wanted.as_str() {
            "" => endpoint.model.clone().ok_or_else(|| {
                UsageError(format!(
                    "the profile `{name}` names no model; give one to --check"
                ))
            })?,
            _ => wanted,
        };
        let offered = models.contains(&wanted);
        if json {
            out.json(&json!({"profile": name, "model": wanted, "offered": offered}))?;
        } else if offered {
            out.line(format_args!("`{name}` offers {}", foreign(&wanted)))?;
        } else {
            out.error_line(format_args!(
                "`{name}` does not offer {}; it offers {} model(s): see `lord ai models -P {name}`",
                foreign(&wanted),
                models.len()
            ));
        }
        return Ok(if offered {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    if json {
        out.json(&models)?;
    } else {
        for model in &models {
            out.line(foreign(model))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn sessions(out: &Output, framework: &Framework, json: bool) -> Result<()> {
    let sessions = framework.ai_log()?.sessions()?;
    if json {
        return out.json(&sessions);
    }
    for s in &sessions {
        let budget = s.budget.map(|b| format!("/{b}")).unwrap_or_default();
        out.line(format_args!(
            "{:<22} {:<12} {:>3} messages  {}{budget} tokens  {}",
            s.id, s.profile, s.messages, s.tokens, s.retention
        ))?;
    }
    Ok(())
}

pub(crate) fn forget(out: &Output, framework: &Framework, session: &str) -> Result<()> {
    if framework.ai_log()?.delete_session(session)? {
        out.status(format_args!("forgot the session `{session}`"));
        Ok(())
    } else {
        Err(UsageError(format!(
            "there is no session `{session}`; see `lord ai sessions`"
        ))
        .into())
    }
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Only exchanges with these words in the prompt, reply or system
    /// prompt (`word*` for a prefix).
    #[arg(long)]
    search: Option<String>,
    /// Only this session's exchanges.
    #[arg(long)]
    session: Option<String>,
    /// How many, newest first.
    #[arg(long, short = 'n', default_value_t = 20)]
    count: usize,
    #[arg(long)]
    json: bool,
}

pub(crate) fn logs(out: &Output, framework: &Framework, args: LogsArgs) -> Result<()> {
    let found = framework.ai_log()?.exchanges(&ExchangeFilter {
        search: args.search,
        session: args.session,
        since_ms: None,
        limit: args.count,
    })?;
    if args.json {
        return out.json(&found);
    }
    for e in &found {
        let at = jiff::Timestamp::from_millisecond(e.at_ms)
            .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        out.line(format_args!(
            "#{} {at} {} {} via {}: {} in, {} out, {:.0} ms{}",
            e.id,
            e.profile,
            foreign(&e.model),
            e.caller,
            e.usage.input_tokens,
            e.usage.output_tokens,
            e.total_ms,
            e.error
                .as_deref()
                .map(|err| format!(" (failed: {})", foreign(err)))
                .unwrap_or_default()
        ))?;
        out.line(format_args!("  > {}", foreign(&e.prompt)))?;
        out.line(format_args!("  < {}", foreign(&e.reply)))?;
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub(crate) enum TemplateCommand {
    /// Save a template.
    Save {
        name: String,
        /// The prompt, with `{{ variables }}`.
        #[arg(long)]
        prompt: String,
        #[arg(long)]
        system: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        model: Option<String>,
        /// A default: `-d NAME VALUE`.
        #[arg(short = 'd', num_args = 2, value_names = ["NAME", "VALUE"])]
        default: Vec<String>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Show {
        name: String,
    },
    Remove {
        name: String,
    },
}

pub(crate) fn template(
    out: &Output,
    framework: &Framework,
    command: TemplateCommand,
) -> Result<()> {
    let library = Library::new(&framework.ai_dir());
    match command {
        TemplateCommand::Save {
            name,
            prompt,
            system,
            role,
            model,
            default,
        } => {
            library.save_template(&Template {
                name: name.clone(),
                prompt,
                system,
                role,
                model,
                defaults: super::ask::params(&default),
            })?;
            out.status(format_args!("saved the template `{name}`"));
        }
        TemplateCommand::List { json } => {
            let names = library.templates()?;
            if json {
                out.json(&names)?;
            } else {
                for name in names {
                    out.line(name)?;
                }
            }
        }
        TemplateCommand::Show { name } => {
            let t = library.template(&name)?;
            out.json(&json!({"name": name, "prompt": t.prompt, "system": t.system, "role": t.role, "model": t.model, "defaults": t.defaults}))?;
        }
        TemplateCommand::Remove { name } => {
            if !library.remove_template(&name)? {
                return Err(UsageError(format!("there is no template `{name}`")).into());
            }
            out.status(format_args!("removed the template `{name}`"));
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub(crate) enum RoleCommand {
    /// Save a role: a system prompt by name.
    Save {
        name: String,
        system: String,
    },
    List,
    Show {
        name: String,
    },
    Remove {
        name: String,
    },
}

pub(crate) fn role(out: &Output, framework: &Framework, command: RoleCommand) -> Result<()> {
    let library = Library::new(&framework.ai_dir());
    match command {
        RoleCommand::Save { name, system } => {
            library.save_role(&name, &system)?;
            out.status(format_args!("saved the role `{name}`"));
        }
        RoleCommand::List => {
            for name in library.roles()? {
                out.line(name)?;
            }
        }
        RoleCommand::Show { name } => out.line(foreign(&library.role(&name)?))?,
        RoleCommand::Remove { name } => {
            if !library.remove_role(&name)? {
                return Err(UsageError(format!("there is no role `{name}`")).into());
            }
            out.status(format_args!("removed the role `{name}`"));
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub(crate) enum PriceCommand {
    /// Every price in force (defaults and yours), per million tokens.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set a model's price per million input and output tokens (a model
    /// name also prices every model whose name starts with it).
    Set {
        model: String,
        input: f64,
        output: f64,
    },
}

pub(crate) fn price(out: &Output, framework: &Framework, command: PriceCommand) -> Result<()> {
    let path = framework.ai_prices_path();
    let mut prices = Prices::load(&path)?;
    match command {
        PriceCommand::List { json } => {
            if json {
                out.json(&json!({"currency": prices.currency(), "models": prices.all()}))?;
            } else {
                for (model, p) in prices.all() {
                    out.line(format_args!(
                        "{model:<28} {:>9.4} in  {:>9.4} out  {} per million tokens",
                        p.input,
                        p.output,
                        prices.currency()
                    ))?;
                }
            }
        }
        PriceCommand::Set {
            model,
            input,
            output,
        } => {
            prices.set(&path, &model, Price { input, output })?;
            out.status(format_args!(
                "set the price of `{model}` in {}",
                path.display()
            ));
        }
    }
    Ok(())
}
