//! Test fixture for `lord:plugin/ai`: granted `ai(local)` only, it asks a
//! profile at temperature 0 and prints what came back in a form a test can
//! read line by line.
//!
//! `ask PROFILE PROMPT [MAX_TOKENS]` prints the reply's text, then
//! `tokens: IN OUT`. `stream PROFILE PROMPT [MAX_TOKENS]` prints each piece
//! as it was read, `piece: TEXT`, then `answer: TEXT` (the host's whole
//! reply) and `tokens: IN OUT`; in those lines a newline in TEXT is written
//! `\n`, so each piece stays on one line. MAX_TOKENS defaults to 32.

use lord_pdk::ai::{self, Ask};
use lord_pdk::{Command, Plugin};

struct Asker;

/// The reply's length when the command names none: short, so a test
/// against a real local model stays quick.
const DEFAULT_MAX_TOKENS: u32 = 32;

impl Plugin for Asker {
    fn run_command(command: Command) -> Result<String, String> {
        let profile = command.arg("profile").ok_or("missing profile")?;
        let prompt = command.arg("prompt").ok_or("missing prompt")?;
        let max_tokens = match command.arg("max-tokens") {
            Some(text) => text
                .parse()
                .map_err(|_| format!("max-tokens must be a whole number, not `{text}`"))?,
            None => DEFAULT_MAX_TOKENS,
        };
        // Temperature 0, so the same prompt gives the same reply.
        let ask = Ask::new(profile)
            .user(prompt)
            .max_tokens(max_tokens)
            .temperature(0.0);
        match command.name.as_str() {
            "ask" => {
                let answer = ai::complete(&ask).map_err(describe)?;
                Ok(format!(
                    "{}\ntokens: {} {}\n",
                    answer.text, answer.input_tokens, answer.output_tokens
                ))
            }
            "stream" => {
                let mut reply = ai::stream(&ask).map_err(describe)?;
                let mut out = String::new();
                for piece in reply.by_ref() {
                    out.push_str(&format!("piece: {}\n", one_line(&piece.map_err(describe)?)));
                }
                let answer = reply.answer().map_err(describe)?;
                out.push_str(&format!(
                    "answer: {}\ntokens: {} {}\n",
                    one_line(&answer.text),
                    answer.input_tokens,
                    answer.output_tokens
                ));
                Ok(out)
            }
            other => Err(format!("unknown command {other}")),
        }
    }
}

/// `text` with each newline written `\n`, so it fits on one line.
fn one_line(text: &str) -> String {
    text.replace('\n', "\\n")
}

lord_pdk::export_plugin!(Asker);

/// An error as this plugin reports it: the kind the host gave (what a
/// plugin can act on), then the message.
fn describe(error: ai::AiError) -> String {
    let kind = match &error {
        ai::AiError::Refused(_) => "refused",
        ai::AiError::Auth(_) => "auth",
        ai::AiError::RateLimited { .. } => "rate-limited",
        ai::AiError::ContextOverflow(_) => "context-overflow",
        ai::AiError::ContentRefused(_) => "content-refused",
        ai::AiError::Unavailable(_) => "unavailable",
        ai::AiError::Other(_) => "other",
    };
    format!("{kind}: {error}")
}
