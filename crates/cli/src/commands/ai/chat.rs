//! `lord ai chat`: a REPL over one session. rustyline gives the line
//! editing, a history file per profile (`$LORD_HOME/ai/history/<profile>`)
//! and multi-line input (a line ending in `\` goes on); replies stream in
//! as they arrive, with the meter after each. `/help` lists the commands.

use anyhow::{Context as _, Result};
use clap::Args;
use rustyline::error::ReadlineError;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Completer, Helper, Highlighter, Hinter};

use super::Target;
use super::ask::Conversation;
use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct ChatArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    conversation: Conversation,
}

/// A line ending in `\` asks for another.
#[derive(Completer, Helper, Highlighter, Hinter)]
struct Lines;

impl Validator for Lines {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(if ctx.input().ends_with('\\') {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

const HELP: &str = "/pin (keep the next message whatever the budget)  /tokens  /session  /exit";

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &lord_host::Framework,
    args: ChatArgs,
) -> Result<()> {
    if !ctx.terminal.stdin {
        return Err(crate::cli::UsageError(
            "`lord ai chat` needs a terminal; in a pipe use `lord ai prompt` (with -c to \
             continue a session)"
                .to_owned(),
        )
        .into());
    }
    let mut target = args.target.clone();
    let (mut asker, mut session) = super::ask::open(framework, &mut target, &args.conversation)?;
    let history = framework
        .ai_dir()
        .join("history")
        .join(&asker.endpoint.name);
    let mut editor = rustyline::Editor::<Lines, rustyline::history::FileHistory>::new()
        .context("could not start the line editor")?;
    editor.set_helper(Some(Lines));
    if let Some(parent) = history.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("could not create {}", parent.display()))?;
    }
    // A missing history file is a first chat, not an error.
    let _ = editor.load_history(&history);
    out.status(format_args!(
        "chatting with `{}` (session {}); {HELP}",
        asker.endpoint.name, session.id
    ));
    let mut pin_next = args.conversation.pin;
    loop {
        let line = match editor.readline("> ") {
            Ok(line) => line,
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("could not read a line"),
        };
        let text = line.replace("\\\n", "\n");
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(text);
        match text {
            "/exit" | "/quit" => break,
            "/help" => {
                out.status(HELP);
                continue;
            }
            "/pin" => {
                pin_next = true;
                out.status("the next message is pinned");
                continue;
            }
            "/tokens" => {
                let budget = session
                    .budget
                    .map(|b| format!(" of {b}"))
                    .unwrap_or_default();
                out.status(format_args!(
                    "the session holds {} tokens{budget}",
                    session.tokens()
                ));
                continue;
            }
            "/session" => {
                out.status(format_args!("session {}", session.id));
                continue;
            }
            // One word after a slash is a command mistyped, not a message:
            // sending it would cost a turn, on a paid service money.
            word if is_command_like(word) => {
                out.warning(format_args!(
                    "no chat command `{word}`; /help lists them (a message of one word that \
                     starts with / is taken for one)"
                ));
                continue;
            }
            _ => {}
        }
        let result = asker
            .turn(out, &mut session, &target, text.to_owned(), pin_next, true)
            .await;
        pin_next = false;
        match result {
            Ok(reply) => out.status(asker.meter(&reply, Some(&session))),
            // A failed turn is reported and the chat goes on.
            Err(e) => out.error(&e),
        }
    }
    if let Err(e) = editor.save_history(&history) {
        out.warning(format_args!("the chat history was not saved: {e}"));
    }
    Ok(())
}

/// Whether `text` reads as a chat command: a slash, then one word.
fn is_command_like(text: &str) -> bool {
    text.strip_prefix('/').is_some_and(|word| {
        !word.is_empty() && !word.contains(char::is_whitespace) && !word.contains('/')
    })
}

#[cfg(test)]
mod command_like_tests {
    use super::is_command_like;

    #[test]
    fn one_word_after_a_slash_is_a_command_and_a_path_or_sentence_is_not() {
        assert!(is_command_like("/tokns"));
        assert!(is_command_like("/hlep"));
        assert!(!is_command_like("/usr/bin is a folder"));
        assert!(!is_command_like("/usr/bin"));
        assert!(!is_command_like("/"));
        assert!(!is_command_like("hello"));
    }
}
