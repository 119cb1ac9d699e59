//! Sending requests: the [`Asker`] every command that talks to a model
//! shares (profile, client, prices, the log), the meter printed after each
//! reply, sessions kept within their budget, `lord ai prompt` and
//! `lord ai chain`.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;
use lord_ai::{
    Client, Endpoint, Exchange, Library, Log, Message, Prices, Reply, Request, Retention,
    RetryPolicy, Role, Session, Trim,
};
use lord_host::Framework;
use serde_json::json;

use super::Target;
use crate::cli::UsageError;
use crate::context::Context;
use crate::render::Output;

/// `lord ai prompt`'s options.
#[derive(Debug, Args)]
pub(crate) struct AskArgs {
    /// The prompt (with standard input appended when it is not a terminal).
    pub(crate) text: Vec<String>,
    #[command(flatten)]
    pub(crate) target: Target,
    #[command(flatten)]
    pub(crate) conversation: Conversation,
    /// Render this template (its `prompt` with the variables given by -p).
    #[arg(long, short = 't')]
    pub(crate) template: Option<String>,
    /// A template variable: `-p NAME VALUE`.
    #[arg(short = 'p', num_args = 2, value_names = ["NAME", "VALUE"])]
    pub(crate) param: Vec<String>,
    /// Wait for the whole reply instead of printing it as it arrives.
    #[arg(long)]
    pub(crate) no_stream: bool,
    /// The reply, its counts, cost and timing as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

/// How a request joins a conversation.
#[derive(Debug, Clone, Args)]
pub(crate) struct Conversation {
    /// Continue the most recent session.
    #[arg(long, short = 'c', conflicts_with = "session")]
    pub(crate) continue_last: bool,
    /// Continue (or start) the session with this id.
    #[arg(long)]
    pub(crate) session: Option<String>,
    /// A system prompt for a new session.
    #[arg(long, short = 's')]
    pub(crate) system: Option<String>,
    /// A role (a saved system prompt) for a new session.
    #[arg(long)]
    pub(crate) role: Option<String>,
    /// The most tokens the session's context may hold.
    #[arg(long)]
    pub(crate) budget: Option<u64>,
    /// How a session over its budget makes room: drop-oldest or summarise.
    #[arg(long, value_parser = parse_retention)]
    pub(crate) retention: Option<Retention>,
    /// Keep this message whatever the budget (pinned).
    #[arg(long)]
    pub(crate) pin: bool,
}

fn parse_retention(text: &str) -> Result<Retention, String> {
    Retention::parse(text).ok_or_else(|| "must be drop-oldest or summarise".to_owned())
}

/// `lord ai chain`'s options.
#[derive(Debug, Args)]
pub(crate) struct ChainArgs {
    /// The templates, in order; each reply is the next one's `input`.
    #[arg(required = true)]
    templates: Vec<String>,
    #[command(flatten)]
    target: Target,
    /// A variable for the first template: `-p NAME VALUE`.
    #[arg(short = 'p', num_args = 2, value_names = ["NAME", "VALUE"])]
    param: Vec<String>,
    /// Every step's reply, counts and cost as JSON.
    #[arg(long)]
    json: bool,
}

/// `-p NAME VALUE` pairs as a map.
pub(crate) fn params(flat: &[String]) -> BTreeMap<String, String> {
    flat.chunks(2)
        .filter_map(|pair| match pair {
            [name, value] => Some((name.clone(), value.clone())),
            _ => None,
        })
        .collect()
}

/// Everything a command needs to talk to one profile.
pub(crate) struct Asker {
    pub(crate) client: Client,
    pub(crate) endpoint: Endpoint,
    pub(crate) max_tokens: Option<u32>,
    pub(crate) prices: Prices,
    pub(crate) log: Log,
    pub(crate) library: Library,
}

impl Asker {
    pub(crate) fn new(framework: &Framework, profile: Option<&str>) -> Result<Self> {
        let name = match profile {
            Some(name) => name.to_owned(),
            None => framework.ai_default_profile()?,
        };
        let (endpoint, profile) = framework.ai_endpoint(&name)?;
        Ok(Self {
            client: Client::new(RetryPolicy::default(), Duration::from_secs(120))?,
            endpoint,
            max_tokens: profile.max_tokens,
            prices: Prices::load(&framework.ai_prices_path())?,
            log: framework.ai_log()?,
            library: Library::new(&framework.ai_dir()),
        })
    }

    pub(crate) fn request(&self, target: &Target, messages: Vec<Message>) -> Request {
        Request {
            model: target.model.clone(),
            messages,
            max_tokens: target.max_tokens.or(self.max_tokens),
            temperature: target.temperature,
            seed: target.seed,
        }
    }

    /// Sends `request`, printing the reply as it arrives when `show`, and
    /// logs the exchange, failed or not.
    pub(crate) async fn ask(
        &mut self,
        out: &Output,
        request: &Request,
        show: bool,
        session: Option<&str>,
        template: Option<&str>,
    ) -> Result<Reply> {
        let result = if show {
            let mut on_text = |piece: &str| {
                let _ = out.model_text(piece);
            };
            let reply = self
                .client
                .stream(&self.endpoint, request, &mut on_text)
                .await;
            if reply.as_ref().is_ok_and(|r| !r.text.ends_with('\n')) {
                out.model_text("\n")?;
            }
            reply
        } else {
            self.client.complete(&self.endpoint, request).await
        };
        let exchange = Exchange::of(
            jiff::Timestamp::now().as_millisecond(),
            "cli",
            session,
            &self.endpoint,
            request,
            result.as_ref(),
            Some(&self.prices),
            template,
        );
        if let Err(e) = self.log.record(&exchange) {
            out.warning(format_args!("this exchange was not logged: {e}"));
        }
        Ok(result?)
    }

    /// The meter: tokens in and out, cost, time to first token, speed.
    pub(crate) fn meter(&self, reply: &Reply, session: Option<&Session>) -> String {
        let cost = match self.prices.cost(&reply.model, reply.usage) {
            Some(cost) => format!("{:.6} {}", cost, self.prices.currency()),
            None => "cost unknown (lord ai price set)".to_owned(),
        };
        let mut line = format!(
            "{} in · {} out · {cost} · first token {:.0} ms",
            reply.usage.input_tokens, reply.usage.output_tokens, reply.timing.first_token_ms
        );
        if let Some(speed) = reply.timing.tokens_per_second(reply.usage) {
            line.push_str(&format!(" · {speed:.1} tok/s"));
        }
        if let Some(session) = session {
            match session.budget {
                Some(budget) => line.push_str(&format!(" · session {}/{budget}", session.tokens())),
                None => line.push_str(&format!(" · session {}", session.tokens())),
            }
        }
        format!("[{line}]")
    }

    /// The reply as `--json` gives it.
    pub(crate) fn reply_json(&self, reply: &Reply, session: Option<&Session>) -> serde_json::Value {
        json!({
            "profile": self.endpoint.name,
            "model": reply.model,
            "text": reply.text,
            "finish": reply.finish.as_str(),
            "usage": reply.usage,
            "cost": self.prices.cost(&reply.model, reply.usage),
            "currency": self.prices.currency(),
            "first_token_ms": reply.timing.first_token_ms,
            "total_ms": reply.timing.total_ms,
            "tokens_per_second": reply.timing.tokens_per_second(reply.usage),
            "session": session.map(|s| json!({"id": s.id, "tokens": s.tokens(), "budget": s.budget, "messages": s.kept.len()})),
        })
    }

    /// A new session with its system prompt (role and `--system`),
    /// budget and retention.
    fn new_session(&self, id: Option<String>, conversation: &Conversation) -> Result<Session> {
        let id = id.unwrap_or_else(new_session_id);
        let mut session = Session::new(id, self.endpoint.name.clone());
        session.budget = conversation.budget;
        session.retention = conversation.retention.unwrap_or(Retention::DropOldest);
        let mut system = Vec::new();
        if let Some(role) = &conversation.role {
            system.push(self.library.role(role)?);
            session.role = Some(role.clone());
        }
        system.extend(conversation.system.clone());
        if !system.is_empty() {
            session.push(Message::new(Role::System, system.join("\n\n")), true);
        }
        Ok(session)
    }

    /// One turn of a session: the message added, the budget kept (by
    /// summary when that is the policy), the reply recorded and the
    /// session saved.
    pub(crate) async fn turn(
        &mut self,
        out: &Output,
        session: &mut Session,
        target: &Target,
        text: String,
        pinned: bool,
        show: bool,
    ) -> Result<Reply> {
        session.push(Message::new(Role::User, text), pinned);
        match session.fit() {
            Trim::Nothing => {}
            Trim::Over => out.note(
                "the session is over its budget, but all it holds is pinned, a system prompt or \
                 this question; sending it whole",
            ),
            Trim::Dropped(dropped) => out.note(format_args!(
                "the session is over its budget: forgot the {} oldest message(s)",
                dropped.len()
            )),
            Trim::Summarise(indexes) => {
                let request = self.request(target, session.summary_request(&indexes));
                let summary = self
                    .ask(out, &request, false, Some(&session.id), Some("(summary)"))
                    .await
                    .context("could not summarise the session's older messages")?;
                session.summarised(&indexes, summary.text, summary.usage.output_tokens);
                out.note(format_args!(
                    "the session is over its budget: summarised {} older message(s)",
                    indexes.len()
                ));
            }
        }
        let request = self.request(target, session.messages());
        let reply = match self.ask(out, &request, show, Some(&session.id), None).await {
            Ok(reply) => reply,
            Err(error) => {
                // The question stays unasked: keep the session as it was.
                session.kept.pop();
                return Err(error);
            }
        };
        // The model asked for, not the one that answered (services answer
        // with a dated name), so a continued session asks the same way.
        if session.model.is_none() {
            session.model = request
                .model
                .clone()
                .or_else(|| self.endpoint.model.clone());
        }
        session.answered(reply.text.clone(), reply.usage);
        self.log
            .save_session(session, jiff::Timestamp::now().as_millisecond())?;
        Ok(reply)
    }
}

/// The asker and the session a request joins: a continued session keeps
/// its profile and model (naming another profile is refused, and so is a
/// new system prompt or role); a new one is made from the options.
pub(crate) fn open(
    framework: &Framework,
    target: &mut Target,
    conversation: &Conversation,
) -> Result<(Asker, Session)> {
    let log = framework.ai_log()?;
    let id = if conversation.continue_last {
        Some(log.latest_session()?.ok_or_else(|| {
            UsageError("there is no session to continue; leave out -c to start one".to_owned())
        })?)
    } else {
        conversation.session.clone()
    };
    let existing = match &id {
        Some(id) => log.load_session(id)?,
        None => None,
    };
    let Some(mut session) = existing else {
        let asker = Asker::new(framework, target.profile.as_deref())?;
        let session = asker.new_session(id, conversation)?;
        return Ok((asker, session));
    };
    if let Some(profile) = &target.profile
        && *profile != session.profile
    {
        return Err(UsageError(format!(
            "the session `{}` is with the profile `{}`; leave out --ai-profile to continue it, \
             or start a new session",
            session.id, session.profile
        ))
        .into());
    }
    if conversation.system.is_some() || conversation.role.is_some() {
        return Err(UsageError(format!(
            "the session `{}` already has its system prompt; start a new session to give \
             another",
            session.id
        ))
        .into());
    }
    target.profile = Some(session.profile.clone());
    if target.model.is_none() {
        target.model.clone_from(&session.model);
    }
    if let Some(budget) = conversation.budget {
        session.budget = Some(budget);
    }
    if let Some(retention) = conversation.retention {
        session.retention = retention;
    }
    Ok((Asker::new(framework, target.profile.as_deref())?, session))
}

/// A session id: the time it started and a random suffix.
pub(crate) fn new_session_id() -> String {
    let now = jiff::Timestamp::now();
    let suffix = now.subsec_nanosecond() % 10_000;
    format!("{}-{suffix:04}", now.strftime("%Y%m%d-%H%M%S"))
}

/// A template rendered with `vars` as the messages to send: its role's
/// system prompt, its own system prompt, then the prompt.
pub(crate) fn template_messages(
    library: &Library,
    template: &lord_ai::Template,
    vars: &BTreeMap<String, String>,
) -> Result<Vec<Message>> {
    let rendered = template.render(vars)?;
    let mut messages = Vec::new();
    if let Some(role) = &template.role {
        messages.push(Message::new(Role::System, library.role(role)?));
    }
    if let Some(system) = rendered.system {
        messages.push(Message::new(Role::System, system));
    }
    messages.push(Message::new(Role::User, rendered.prompt));
    Ok(messages)
}

/// `lord ai prompt`.
pub(crate) async fn prompt(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    args: AskArgs,
) -> Result<ExitCode> {
    let mut text = args.text.join(" ");
    if !ctx.terminal.stdin {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .context("could not read standard input")?;
        if !input.trim().is_empty() {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&input);
        }
    }
    let mut target = args.target.clone();
    let mut conversation = args.conversation.clone();
    if let Some(name) = &args.template {
        let template = Library::new(&framework.ai_dir()).template(name)?;
        let mut vars = params(&args.param);
        if !text.is_empty() {
            vars.entry("input".to_owned())
                .or_insert_with(|| text.clone());
        }
        let rendered = template.render(&vars)?;
        text = rendered.prompt;
        // The template's role, system prompt and model, where the command
        // line gave none; a continued session keeps its own system prompt.
        let continuing = conversation.continue_last || conversation.session.is_some();
        if !continuing {
            if conversation.role.is_none() {
                conversation.role = template.role.clone();
            }
            if conversation.system.is_none() {
                conversation.system = rendered.system;
            }
        }
        if target.model.is_none() {
            target.model = template.model.clone();
        }
    }
    if text.trim().is_empty() {
        return Err(
            UsageError("no prompt: give it as arguments or on standard input".to_owned()).into(),
        );
    }
    let (mut asker, mut session) = open(framework, &mut target, &conversation)?;
    let show = !args.json && !args.no_stream;
    let reply = asker
        .turn(out, &mut session, &target, text, conversation.pin, show)
        .await?;
    if args.json {
        out.json(&asker.reply_json(&reply, Some(&session)))?;
    } else {
        if !show {
            out.model_text(&reply.text)?;
            if !reply.text.ends_with('\n') {
                out.model_text("\n")?;
            }
        }
        out.status(asker.meter(&reply, Some(&session)));
    }
    Ok(ExitCode::SUCCESS)
}

/// `lord ai chain`.
pub(crate) async fn chain(out: &Output, framework: &Framework, args: ChainArgs) -> Result<()> {
    let mut asker = Asker::new(framework, args.target.profile.as_deref())?;
    let mut vars = params(&args.param);
    let mut steps = Vec::new();
    let last = args.templates.len() - 1;
    for (index, name) in args.templates.iter().enumerate() {
        let template = asker.library.template(name)?;
        let messages = template_messages(&asker.library, &template, &vars)?;
        let mut target = args.target.clone();
        target.model = target.model.or(template.model.clone());
        let request = asker.request(&target, messages);
        // Only the last step's reply is the chain's answer on screen.
        let show = !args.json && index == last;
        let reply = asker
            .ask(out, &request, show, None, Some(name))
            .await
            .with_context(|| format!("step {} (`{name}`) failed", index + 1))?;
        if !args.json {
            out.status(format!(
                "step {} `{name}`: {}",
                index + 1,
                asker.meter(&reply, None)
            ));
        }
        vars.insert("input".to_owned(), reply.text.trim().to_owned());
        steps.push(json!({"template": name, "reply": asker.reply_json(&reply, None)}));
    }
    if args.json {
        out.json(&json!({ "steps": steps }))?;
    }
    Ok(())
}
