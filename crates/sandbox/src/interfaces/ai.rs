//! `lord:plugin/ai`: a plugin granted `ai(NAME)` asks the model behind the
//! user's AI profile `NAME`. The provider is a service the host links
//! ([`AiService`], which holds the keys and writes the prompt log), so a
//! plugin never sees a key, and a host without one refuses the calls.
//!
//! What a plugin controls is bounded here, before the service sees it: the
//! profile must be granted, the messages together hold at most
//! [`MAX_MESSAGE_BYTES`], and an instance holds at most
//! [`MAX_OPEN_STREAMS`] replies in flight. Every call waits under the
//! call's deadline like any other host wait: when it passes, the session
//! drops the call's future, and with it the service's request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use lord_manifest::PermissionFamily;
use lord_perf::Area;
use tokio::sync::mpsc::Receiver;
use wasmtime::component::{HasSelf, Linker, Resource};

use super::HostInterface;
use crate::bindings::lord::plugin::ai;
use crate::session::StoreState;

pub(crate) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/ai",
    family: Some(PermissionFamily::Ai),
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    ai::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

/// The most text one request's messages may carry (roles and contents
/// together): the host copies it, and the provider may bill for it.
pub(crate) const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// The most replies one instance may be reading at once: each is a live
/// request to a provider, which the plugin must not multiply at will.
pub(crate) const MAX_OPEN_STREAMS: usize = 4;

/// A request a plugin makes, checked against its grants.
#[derive(Debug, Clone, PartialEq)]
pub struct AiAsk {
    /// The profile's name, as granted (`local` for `ai(local)`).
    pub profile: String,
    /// `None`: the profile's own model.
    pub model: Option<String>,
    /// `(role, content)`, each role `system`, `user` or `assistant`.
    pub messages: Vec<(String, String)>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
}

/// A whole reply.
#[derive(Debug, Clone, PartialEq)]
pub struct AiAnswer {
    pub text: String,
    /// The model that answered, as the provider names it.
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Why the reply ended, as the provider says it (`stop`, `length`).
    pub finish: String,
}

/// Why a request failed, as the plugin is told (the WIT's `ai-error`):
/// by what it can do about it, each with a message for a person.
#[derive(Debug, Clone, PartialEq)]
pub enum AiFailure {
    /// Not sent: an ungranted or unusable profile, a bad request, too
    /// many open streams, no service in this host.
    Refused(String),
    /// The service refused the profile's key.
    Auth(String),
    /// Still rate limited after the host's retries.
    RateLimited {
        message: String,
        retry_after_seconds: Option<u32>,
    },
    /// The conversation does not fit the model's context.
    ContextOverflow(String),
    /// The model or the service declined to answer.
    ContentRefused(String),
    /// The service could not be reached, or failed on its side.
    Unavailable(String),
    Other(String),
}

impl AiFailure {
    pub fn message(&self) -> &str {
        match self {
            Self::Refused(m)
            | Self::Auth(m)
            | Self::ContextOverflow(m)
            | Self::ContentRefused(m)
            | Self::Unavailable(m)
            | Self::Other(m)
            | Self::RateLimited { message: m, .. } => m,
        }
    }
}

impl std::fmt::Display for AiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// One step of a streamed reply.
#[derive(Debug, Clone, PartialEq)]
pub enum AiPiece {
    /// The next piece of text.
    Text(String),
    /// The end: the whole reply and its counts, or why it failed.
    End(Result<AiAnswer, AiFailure>),
}

/// Implemented by the host (lord-host's AI provider), linked into an
/// instance's `Links` as `Arc<dyn AiService>`. It resolves the profile,
/// holds its key and writes the prompt log; the sandbox has already
/// checked the grant and the sizes. Errors are shown to the plugin as they
/// are, so they must never carry a key.
pub trait AiService: Send + Sync {
    /// `plugin` is the asking plugin's id (for the prompt log).
    fn complete(
        &self,
        plugin: &str,
        ask: AiAsk,
    ) -> Pin<Box<dyn Future<Output = Result<AiAnswer, AiFailure>> + Send>>;
    /// Pieces as they arrive, ending with exactly one `End`. The plugin
    /// may stop reading at any time: a send that fails because the
    /// receiver is gone means the request should stop.
    fn stream(&self, plugin: &str, ask: AiAsk) -> Receiver<AiPiece>;
}

/// What `lord:plugin/ai` may ask in one instance.
#[derive(Debug, Default)]
pub(crate) struct AiState {
    /// The granted profile names.
    profiles: Vec<String>,
    /// Reply streams the guest holds now.
    open_streams: usize,
}

impl AiState {
    pub(crate) fn new(grants: &crate::Grants) -> Self {
        Self {
            profiles: grants.ai.clone(),
            open_streams: 0,
        }
    }

    /// The request as the service takes it, or the guest's error (and the
    /// permission it lacks, when a grant would allow it).
    fn check(&self, ask: ai::Ask) -> Result<AiAsk, Refused> {
        if !self.profiles.contains(&ask.profile) {
            return Err(Refused::needs(&ask.profile));
        }
        let mut bytes = 0usize;
        for message in &ask.messages {
            match message.role.as_str() {
                "system" | "user" | "assistant" => {}
                other => {
                    return Err(Refused::invalid(format!(
                        "unknown message role `{other}`: use `system`, `user` or `assistant`"
                    )));
                }
            }
            bytes = bytes.saturating_add(message.role.len() + message.content.len());
        }
        if bytes > MAX_MESSAGE_BYTES {
            return Err(Refused::invalid(format!(
                "the request's messages hold {bytes} bytes, over the {MAX_MESSAGE_BYTES} \
                 (1 MiB) a plugin may send at once"
            )));
        }
        Ok(AiAsk {
            profile: ask.profile,
            model: ask.model,
            messages: ask
                .messages
                .into_iter()
                .map(|m| (m.role, m.content))
                .collect(),
            max_tokens: ask.max_tokens,
            temperature: ask.temperature,
        })
    }
}

/// Why a request was not sent.
#[derive(Debug, PartialEq)]
struct Refused {
    message: String,
    /// The access and the permission to record, for a missing grant.
    denial: Option<(String, String)>,
}

impl Refused {
    fn needs(profile: &str) -> Self {
        let access = format!("the AI profile `{profile}`");
        let permission = format!("ai({profile})");
        Self {
            message: format!("refused: {access} (needs `{permission}`)"),
            denial: Some((access, permission)),
        }
    }

    fn invalid(message: String) -> Self {
        Self {
            message,
            denial: None,
        }
    }
}

/// A reply being read: the resource behind `reply-stream`, kept in the
/// store's resource table (so it counts against the handle cap too).
#[derive(Debug)]
#[expect(
    unreachable_pub,
    reason = "bindgen re-exports the resource's type with `pub use`, which a crate-private type refuses"
)]
pub struct ReplyStream {
    pieces: Receiver<AiPiece>,
    /// How the reply ended, once it has.
    end: Option<Result<AiAnswer, AiFailure>>,
}

impl ReplyStream {
    fn new(pieces: Receiver<AiPiece>) -> Self {
        Self { pieces, end: None }
    }

    /// The next piece, waiting for it; `None` at the end, and at every
    /// call after it.
    async fn next(&mut self) -> Result<Option<String>, AiFailure> {
        if self.end.is_none() {
            match self.pieces.recv().await {
                Some(AiPiece::Text(text)) => return Ok(Some(text)),
                Some(AiPiece::End(end)) => self.end = Some(end),
                // The service dropped its sender without saying how the
                // reply ended: a failure, not a short reply.
                None => {
                    self.end = Some(Err(AiFailure::Other(
                        "the AI provider ended the reply without finishing it".to_owned(),
                    )));
                }
            }
            // Nothing more is read: the service's side may now close.
            self.pieces.close();
        }
        match &self.end {
            Some(Ok(_)) | None => Ok(None),
            Some(Err(failure)) => Err(failure.clone()),
        }
    }

    /// The whole reply, once `next` has reached its end.
    fn answer(&self) -> Result<AiAnswer, AiFailure> {
        match &self.end {
            Some(end) => end.clone(),
            None => Err(AiFailure::Refused(
                "the reply is not finished: call `next` until it gives none".to_owned(),
            )),
        }
    }
}

impl StoreState {
    /// The checked request and the service to send it to, or the guest's
    /// error (a refusal recorded as one).
    fn ai_request(&mut self, ask: ai::Ask) -> Result<(Arc<dyn AiService>, AiAsk), AiFailure> {
        let ask = self.ai.check(ask).map_err(|refused| {
            if let Some((access, permission)) = refused.denial {
                self.deny(access, Some(permission));
            }
            AiFailure::Refused(refused.message)
        })?;
        let service = self
            .links
            .get::<Arc<dyn AiService>>()
            .cloned()
            .ok_or_else(|| {
                AiFailure::Refused(
                    "this host serves no AI profiles (the `ai` provider is not running in it)"
                        .to_owned(),
                )
            })?;
        Ok((service, ask))
    }
}

impl ai::Host for StoreState {
    async fn complete(
        &mut self,
        ask: ai::Ask,
    ) -> wasmtime::Result<Result<ai::Answer, ai::AiError>> {
        self.meter.enter(Area::Ai);
        let (service, ask) = match self.ai_request(ask) {
            Ok(request) => request,
            Err(failure) => return Ok(Err(error_to_wit(failure))),
        };
        let answer = service.complete(self.plugin.as_str(), ask).await;
        Ok(answer.map(to_wit).map_err(error_to_wit))
    }

    async fn stream(
        &mut self,
        ask: ai::Ask,
    ) -> wasmtime::Result<Result<Resource<ReplyStream>, ai::AiError>> {
        self.meter.enter(Area::Ai);
        if self.ai.open_streams >= MAX_OPEN_STREAMS {
            return Ok(Err(ai::AiError::Refused(format!(
                "this plugin already reads {MAX_OPEN_STREAMS} replies: drop one first"
            ))));
        }
        let (service, ask) = match self.ai_request(ask) {
            Ok(request) => request,
            Err(failure) => return Ok(Err(error_to_wit(failure))),
        };
        let pieces = service.stream(self.plugin.as_str(), ask);
        // A full table is a trap the session names as the handle limit;
        // the receiver dropped with it stops the request.
        let stream = self.table.push(ReplyStream::new(pieces))?;
        self.ai.open_streams += 1;
        Ok(Ok(stream))
    }
}

impl ai::HostReplyStream for StoreState {
    async fn next(
        &mut self,
        stream: Resource<ReplyStream>,
    ) -> wasmtime::Result<Result<Option<String>, ai::AiError>> {
        self.meter.enter(Area::Ai);
        Ok(self
            .table
            .get_mut(&stream)?
            .next()
            .await
            .map_err(error_to_wit))
    }

    async fn answer(
        &mut self,
        stream: Resource<ReplyStream>,
    ) -> wasmtime::Result<Result<ai::Answer, ai::AiError>> {
        self.meter.enter(Area::Ai);
        Ok(self
            .table
            .get(&stream)?
            .answer()
            .map(to_wit)
            .map_err(error_to_wit))
    }

    fn drop(&mut self, stream: Resource<ReplyStream>) -> wasmtime::Result<()> {
        self.meter.enter(Area::Ai);
        self.table.delete(stream)?;
        self.ai.open_streams = self.ai.open_streams.saturating_sub(1);
        Ok(())
    }
}

fn error_to_wit(failure: AiFailure) -> ai::AiError {
    match failure {
        AiFailure::Refused(m) => ai::AiError::Refused(m),
        AiFailure::Auth(m) => ai::AiError::Auth(m),
        AiFailure::RateLimited {
            message,
            retry_after_seconds,
        } => ai::AiError::RateLimited(ai::RateLimit {
            message,
            retry_after_seconds,
        }),
        AiFailure::ContextOverflow(m) => ai::AiError::ContextOverflow(m),
        AiFailure::ContentRefused(m) => ai::AiError::ContentRefused(m),
        AiFailure::Unavailable(m) => ai::AiError::Unavailable(m),
        AiFailure::Other(m) => ai::AiError::Other(m),
    }
}

fn to_wit(answer: AiAnswer) -> ai::Answer {
    ai::Answer {
        text: answer.text,
        model: answer.model,
        input_tokens: answer.input_tokens,
        output_tokens: answer.output_tokens,
        finish: answer.finish,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(profiles: &[&str]) -> AiState {
        AiState {
            profiles: profiles.iter().map(|p| (*p).to_owned()).collect(),
            open_streams: 0,
        }
    }

    fn ask(profile: &str, messages: &[(&str, &str)]) -> ai::Ask {
        ai::Ask {
            profile: profile.to_owned(),
            model: None,
            messages: messages
                .iter()
                .map(|(role, content)| ai::Message {
                    role: (*role).to_owned(),
                    content: (*content).to_owned(),
                })
                .collect(),
            max_tokens: Some(8),
            temperature: Some(0.0),
        }
    }

    fn answer(text: &str) -> AiAnswer {
        AiAnswer {
            text: text.to_owned(),
            model: "m".to_owned(),
            input_tokens: 3,
            output_tokens: 2,
            finish: "stop".to_owned(),
        }
    }

    #[test]
    fn a_granted_profile_passes_as_asked() {
        let checked = state(&["local"])
            .check(ask("local", &[("system", "be brief"), ("user", "hi")]))
            .expect("granted");
        assert_eq!(checked.profile, "local");
        assert_eq!(
            checked.messages,
            vec![
                ("system".to_owned(), "be brief".to_owned()),
                ("user".to_owned(), "hi".to_owned())
            ]
        );
        assert_eq!(checked.max_tokens, Some(8));
    }

    #[test]
    fn an_ungranted_profile_is_refused_naming_its_permission() {
        let refused = state(&["local"])
            .check(ask("cloud", &[("user", "hi")]))
            .expect_err("refused");
        assert_eq!(
            refused.message,
            "refused: the AI profile `cloud` (needs `ai(cloud)`)"
        );
        assert_eq!(
            refused.denial,
            Some(("the AI profile `cloud`".to_owned(), "ai(cloud)".to_owned()))
        );
    }

    #[test]
    fn unknown_roles_and_oversized_messages_are_refused_without_a_denial() {
        let s = state(&["local"]);
        let refused = s.check(ask("local", &[("tool", "x")])).expect_err("role");
        assert!(refused.message.contains("`tool`"), "{}", refused.message);
        assert_eq!(refused.denial, None);
        let big = "x".repeat(MAX_MESSAGE_BYTES / 2);
        let refused = s
            .check(ask("local", &[("user", &big), ("user", &big)]))
            .expect_err("too large");
        assert!(refused.message.contains("1 MiB"), "{}", refused.message);
        assert_eq!(refused.denial, None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_stream_gives_its_pieces_then_none_then_its_answer() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let mut stream = ReplyStream::new(rx);
        assert!(stream.answer().is_err(), "no answer before the end");
        tx.send(AiPiece::Text("he".to_owned())).await.expect("open");
        tx.send(AiPiece::Text("llo".to_owned()))
            .await
            .expect("open");
        tx.send(AiPiece::End(Ok(answer("hello"))))
            .await
            .expect("open");
        assert_eq!(stream.next().await, Ok(Some("he".to_owned())));
        assert_eq!(stream.next().await, Ok(Some("llo".to_owned())));
        assert_eq!(stream.next().await, Ok(None));
        assert_eq!(stream.next().await, Ok(None), "the end stays the end");
        assert_eq!(stream.answer(), Ok(answer("hello")));
        assert!(tx.is_closed(), "the service sees the reader is done");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_stream_whose_service_fails_or_vanishes_reports_it() {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let mut stream = ReplyStream::new(rx);
        let failure = AiFailure::Unavailable("model not found".to_owned());
        tx.send(AiPiece::End(Err(failure.clone())))
            .await
            .expect("open");
        assert_eq!(stream.next().await, Err(failure.clone()));
        assert_eq!(stream.answer(), Err(failure));

        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let mut stream = ReplyStream::new(rx);
        drop(tx);
        let ended = stream.next().await.expect_err("no end given");
        assert!(ended.message().contains("without finishing"), "{ended}");
    }
}
