//! The one HTTP client every provider goes through: it sends what a wire
//! module built, retries what may succeed later (429 honouring
//! `Retry-After`, 5xx and failed connections, with exponential backoff and
//! full jitter), never retries what will not (401, 403, a context
//! overflow, a refusal), reads streamed replies event by event, handing
//! each piece of text on as it arrives, and times the reply.
//!
//! Invariant: the key leaves only in the request's headers. Anything a
//! service sends back is scrubbed of it before it reaches an error.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::AiError;
use crate::types::{Endpoint, Finish, Kind, Reply, Request, Timing, Usage};
use crate::wire::{self, Delta, ErrorKind, Framing};

/// When and how often to try again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The first backoff; each later one doubles, up to `max_delay`.
    pub base: Duration,
    pub max_delay: Duration,
    /// The longest `Retry-After` waited for; a longer one ends the
    /// retries at once, saying how long the service asked for.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt counts from 1):
    /// uniformly random up to the exponential ceiling ("full jitter"), so
    /// clients that failed together do not return together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        let random = getrandom::u64().unwrap_or(u64::MAX / 2);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(random % (millis + 1))
    }
}

/// Talks to every kind of service.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    policy: RetryPolicy,
}

/// A response that answered with success, and when it started.
struct Opened {
    response: reqwest::Response,
}

impl Client {
    /// A client with `policy`; `read_timeout` bounds the silence between
    /// two pieces of a reply (a whole unstreamed reply is one piece).
    pub fn new(policy: RetryPolicy, read_timeout: Duration) -> Result<Self, AiError> {
        // No redirect is followed: the key travels in a header of its own
        // for some services (`x-api-key`, `x-goog-api-key`), which reqwest
        // carries to another host on a redirect, and a 307 would send the
        // prompt there too. A redirect is a status error naming it.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(read_timeout)
            .user_agent(concat!("lord/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AiError::Invalid(format!("could not set up the HTTP client: {e}")))?;
        Ok(Self { http, policy })
    }

    /// Asks for a whole reply.
    pub async fn complete(&self, endpoint: &Endpoint, request: &Request) -> Result<Reply, AiError> {
        check(request)?;
        let built = wire::build(endpoint, request, false).map_err(AiError::Profile)?;
        let model = requested_model(endpoint, request);
        let started = Instant::now();
        let opened = self.open(endpoint, &built).await?;
        let text = opened
            .response
            .text()
            .await
            .map_err(|e| unreachable(endpoint, &e))?;
        let body: Value = serde_json::from_str(&text).map_err(|e| AiError::Protocol {
            profile: endpoint.name.clone(),
            detail: format!("the reply is not JSON: {e}"),
        })?;
        let parsed = wire::reply(endpoint.kind, &body, &model)
            .map_err(|(kind, detail)| error_of(endpoint, kind, 200, scrub(endpoint, &detail)))?;
        let total_ms = millis(started.elapsed());
        Ok(Reply {
            text: parsed.text,
            model: non_empty(parsed.model, model),
            usage: parsed.usage,
            finish: parsed.finish,
            timing: Timing {
                first_token_ms: total_ms,
                total_ms,
            },
        })
    }

    /// Asks for a streamed reply, handing each piece of text to `on_text`
    /// as it arrives; returns the whole reply once the stream ends.
    pub async fn stream(
        &self,
        endpoint: &Endpoint,
        request: &Request,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Reply, AiError> {
        check(request)?;
        let built = wire::build(endpoint, request, true).map_err(AiError::Profile)?;
        let requested = requested_model(endpoint, request);
        let started = Instant::now();
        let mut opened = self.open(endpoint, &built).await?;
        let mut reader = Reader::new(wire::framing(endpoint.kind));
        let mut state = StreamState::default();
        while let Some(bytes) = opened
            .response
            .chunk()
            .await
            .map_err(|e| unreachable(endpoint, &e))?
        {
            for payload in reader.push(&bytes) {
                state.apply(endpoint, event(endpoint, &payload)?, started, on_text)?;
            }
            if state.done {
                break;
            }
        }
        if let Some(payload) = reader.finish() {
            state.apply(endpoint, event(endpoint, &payload)?, started, on_text)?;
        }
        let total_ms = millis(started.elapsed());
        let finish = match (state.finish, state.done) {
            (Some(finish), _) => finish,
            (None, true) => Finish::Stop,
            (None, false) => {
                return Err(AiError::Protocol {
                    profile: endpoint.name.clone(),
                    detail: "the stream ended before the reply was complete".to_owned(),
                });
            }
        };
        Ok(Reply {
            model: non_empty(state.model, requested),
            usage: state.usage,
            finish,
            timing: Timing {
                first_token_ms: state.first_token_ms.unwrap_or(total_ms),
                total_ms,
            },
            text: state.text,
        })
    }

    /// The models a profile's service offers.
    pub async fn models(&self, endpoint: &Endpoint) -> Result<Vec<String>, AiError> {
        let (path, list, field) = match endpoint.kind {
            Kind::OpenAi => ("/models", "/data", "id"),
            Kind::Anthropic => ("/models", "/data", "id"),
            Kind::Ollama => ("/api/tags", "/models", "name"),
            Kind::Gemini => ("/models", "/models", "name"),
            Kind::HuggingFace => {
                return Err(AiError::Invalid(format!(
                    "Hugging Face inference has no list of models; name one with --model \
                     (its id on huggingface.co) or set `ai.profiles.{}.model`",
                    endpoint.name
                )));
            }
        };
        let headers = wire::build(
            endpoint,
            &Request {
                model: Some("-".to_owned()),
                ..Request::default()
            },
            false,
        )
        .map_err(AiError::Profile)?
        .headers;
        let mut names = Vec::new();
        let mut page: Option<String> = None;
        // Anthropic and Gemini answer in pages; a bounded number of them
        // keeps a misbehaving service from looping us forever.
        for _ in 0..50 {
            let query = match (endpoint.kind, &page) {
                (Kind::Anthropic, Some(after)) => format!("?limit=1000&after_id={after}"),
                (Kind::Anthropic, None) => "?limit=1000".to_owned(),
                (Kind::Gemini, Some(token)) => format!("?pageSize=1000&pageToken={token}"),
                (Kind::Gemini, None) => "?pageSize=1000".to_owned(),
                (Kind::OpenAi | Kind::Ollama | Kind::HuggingFace, _) => String::new(),
            };
            let built = wire::Built {
                url: format!("{}{path}{query}", endpoint.url),
                headers: headers.clone(),
                body: Value::Null,
            };
            let opened = self.open(endpoint, &built).await?;
            let body: Value = opened
                .response
                .json()
                .await
                .map_err(|e| AiError::Protocol {
                    profile: endpoint.name.clone(),
                    detail: format!("the model list is not JSON: {e}"),
                })?;
            names.extend(
                body.pointer(list)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|item| item.get(field).and_then(Value::as_str))
                    .map(|name| name.strip_prefix("models/").unwrap_or(name).to_owned()),
            );
            page = match endpoint.kind {
                Kind::Anthropic if body.get("has_more").and_then(Value::as_bool) == Some(true) => {
                    body.get("last_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                }
                Kind::Gemini => body
                    .get("nextPageToken")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
                Kind::Anthropic | Kind::OpenAi | Kind::Ollama | Kind::HuggingFace => None,
            };
            // Tokens are the service's; only URL-safe ones are sent back.
            if page.as_ref().is_none_or(|p| {
                !p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            }) {
                break;
            }
        }
        names.sort();
        Ok(names)
    }

    /// Sends `built`, retrying what may succeed later, until a success.
    async fn open(&self, endpoint: &Endpoint, built: &wire::Built) -> Result<Opened, AiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.policy.attempts;
            let mut request = if built.body.is_null() {
                self.http.get(&built.url)
            } else {
                self.http.post(&built.url).json(&built.body)
            };
            for (name, value) in &built.headers {
                request = request.header(*name, value);
            }
            let response = match request.send().await {
                Ok(response) => response,
                // Only a request that never reached the service is sent
                // again: one that timed out may have been answered (and
                // billed) already.
                Err(error) if !last && error.is_connect() => {
                    tokio::time::sleep(self.policy.backoff(attempt)).await;
                    continue;
                }
                Err(error) => return Err(unreachable(endpoint, &error)),
            };
            let status = response.status().as_u16();
            if response.status().is_success() {
                return Ok(Opened { response });
            }
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let body = response.text().await.unwrap_or_default();
            // Scrubbed before it is cut to length: a cut through the key
            // would leave a part of it that scrubbing afterwards misses.
            let detail = wire::error_detail(&scrub(endpoint, &body));
            let kind = wire::classify(status, &body);
            let wait = match kind {
                ErrorKind::RateLimited => match retry_after {
                    Some(wait) if wait > self.policy.max_retry_after => None,
                    Some(wait) => Some(wait),
                    None => Some(self.policy.backoff(attempt)),
                },
                ErrorKind::Other if status >= 500 => Some(
                    retry_after
                        .filter(|wait| *wait <= self.policy.max_retry_after)
                        .unwrap_or_else(|| self.policy.backoff(attempt)),
                ),
                ErrorKind::Auth
                | ErrorKind::ContextOverflow
                | ErrorKind::Refused
                | ErrorKind::Other => None,
            };
            match wait {
                Some(wait) if !last => tokio::time::sleep(wait).await,
                _ if kind == ErrorKind::RateLimited => {
                    return Err(AiError::RateLimited {
                        profile: endpoint.name.clone(),
                        detail,
                        attempts: attempt,
                        retry_after,
                    });
                }
                _ => return Err(error_of(endpoint, kind, status, detail)),
            }
        }
    }
}

/// A request needs something to answer.
fn check(request: &Request) -> Result<(), AiError> {
    if request.messages.is_empty() {
        return Err(AiError::Invalid("the request has no messages".to_owned()));
    }
    Ok(())
}

/// The model asked for, to name a reply whose service does not. Taken
/// from the request, not the built body: Gemini and Hugging Face put the
/// model in the URL, so their bodies have no `model`.
fn requested_model(endpoint: &Endpoint, request: &Request) -> String {
    request
        .model
        .clone()
        .or_else(|| endpoint.model.clone())
        .unwrap_or_default()
}

fn non_empty(text: String, or: String) -> String {
    if text.is_empty() { or } else { text }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The typed error for what a service said.
fn error_of(endpoint: &Endpoint, kind: ErrorKind, status: u16, detail: String) -> AiError {
    let profile = endpoint.name.clone();
    match kind {
        ErrorKind::Auth => AiError::Auth {
            secret: endpoint
                .key_secret
                .clone()
                .unwrap_or_else(|| "NAME".to_owned()),
            profile,
            status,
            detail,
        },
        ErrorKind::RateLimited => AiError::RateLimited {
            profile,
            detail,
            attempts: 1,
            retry_after: None,
        },
        ErrorKind::ContextOverflow => AiError::ContextOverflow { profile, detail },
        ErrorKind::Refused => AiError::Refused { profile, detail },
        ErrorKind::Other => AiError::Status {
            profile,
            status,
            detail,
        },
    }
}

fn unreachable(endpoint: &Endpoint, error: &reqwest::Error) -> AiError {
    // reqwest's message can hold the URL, which never holds the key (keys
    // travel in headers), but scrub anyway.
    AiError::Unreachable {
        profile: endpoint.name.clone(),
        url: endpoint.url.clone(),
        detail: scrub(endpoint, &error_chain(error)),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// `text` with the endpoint's key, and any part of it [`KEY_PART`]
/// characters or longer, replaced by `<key>`, so a service echoing the key
/// back, whole or cut, cannot put it in an error.
pub(crate) fn scrub(endpoint: &Endpoint, text: &str) -> String {
    match &endpoint.key {
        Some(key) if key.expose().len() >= 4 => scrub_key(key.expose(), text),
        Some(_) | None => text.to_owned(),
    }
}

/// The shortest part of a key that [`scrub`] takes out on its own: long
/// enough that ordinary text does not match it by chance.
const KEY_PART: usize = 8;

fn scrub_key(key: &str, text: &str) -> String {
    let whole = text.replace(key, "<key>");
    // Parts are found by bytes, for a key of ASCII (every service's is); a
    // run of them is ASCII in the text too, so cuts fall on characters.
    if !key.is_ascii() || key.len() <= KEY_PART {
        return whole;
    }
    let parts: std::collections::HashSet<&[u8]> = key.as_bytes().windows(KEY_PART).collect();
    let bytes = whole.as_bytes();
    let mut out = String::with_capacity(whole.len());
    let (mut at, mut kept) = (0, 0);
    while at + KEY_PART <= bytes.len() {
        if !parts.contains(&bytes[at..at + KEY_PART]) {
            at += 1;
            continue;
        }
        // The longest run from here that is still part of the key.
        let mut end = at + KEY_PART;
        while end < bytes.len() && key.contains(&whole[at..=end]) {
            end += 1;
        }
        out.push_str(&whole[kept..at]);
        out.push_str("<key>");
        (at, kept) = (end, end);
    }
    out.push_str(&whole[kept..]);
    out
}

/// Reads one streamed event, the key scrubbed from it first, for the
/// same reason as an error body: an error event's detail is cut to length.
fn event(endpoint: &Endpoint, payload: &str) -> Result<Vec<Delta>, AiError> {
    let echoed = endpoint
        .key
        .as_ref()
        .is_some_and(|key| key.expose().len() >= 4 && payload.contains(key.expose()));
    let scrubbed;
    let payload = if echoed {
        scrubbed = scrub(endpoint, payload);
        scrubbed.as_str()
    } else {
        payload
    };
    wire::event(endpoint.kind, payload).map_err(|detail| AiError::Protocol {
        profile: endpoint.name.clone(),
        detail,
    })
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let when = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let now = jiff::Timestamp::now();
    let wait = now.until(when).ok()?.total(jiff::Unit::Millisecond).ok()?;
    Some(Duration::from_millis(wait.max(0.0) as u64))
}

/// What a stream has said so far.
#[derive(Default)]
struct StreamState {
    text: String,
    model: String,
    usage: Usage,
    finish: Option<Finish>,
    done: bool,
    first_token_ms: Option<f64>,
}

impl StreamState {
    fn apply(
        &mut self,
        endpoint: &Endpoint,
        deltas: Vec<Delta>,
        started: Instant,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), AiError> {
        for delta in deltas {
            match delta {
                Delta::Text(piece) => {
                    self.first_token_ms
                        .get_or_insert_with(|| millis(started.elapsed()));
                    on_text(&piece);
                    self.text.push_str(&piece);
                }
                Delta::Model(model) => self.model = model,
                Delta::Usage(usage) => {
                    if usage.input_tokens > 0 {
                        self.usage.input_tokens = usage.input_tokens;
                    }
                    if usage.output_tokens > 0 {
                        self.usage.output_tokens = usage.output_tokens;
                    }
                }
                Delta::Finish(finish) => self.finish = Some(finish),
                Delta::Done => self.done = true,
                Delta::Error { kind, detail } => {
                    return Err(error_of(endpoint, kind, 200, scrub(endpoint, &detail)));
                }
            }
        }
        Ok(())
    }
}

/// Splits a streamed body into event payloads: SSE `data` (lines of one
/// event joined by newlines, events ended by a blank line; comments and
/// other fields skipped) or JSON lines.
struct Reader {
    framing: Framing,
    pending: Vec<u8>,
    data: Option<String>,
}

impl Reader {
    fn new(framing: Framing) -> Self {
        Self {
            framing,
            pending: Vec::new(),
            data: None,
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            self.line(line, &mut out);
        }
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<String>) {
        match self.framing {
            Framing::JsonLines => {
                if !line.trim().is_empty() {
                    out.push(line.to_owned());
                }
            }
            Framing::Sse => {
                if line.is_empty() {
                    out.extend(self.data.take());
                } else if let Some(data) = line.strip_prefix("data:") {
                    let data = data.strip_prefix(' ').unwrap_or(data);
                    match &mut self.data {
                        Some(joined) => {
                            joined.push('\n');
                            joined.push_str(data);
                        }
                        empty => *empty = Some(data.to_owned()),
                    }
                }
            }
        }
    }

    /// What is left when the body ends without a final line break.
    fn finish(&mut self) -> Option<String> {
        let rest = String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned();
        let mut out = Vec::new();
        if !rest.is_empty() {
            self.line(rest.trim_end_matches('\r'), &mut out);
        }
        if self.framing == Framing::Sse {
            out.extend(self.data.take());
        }
        out.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_are_split_across_chunks_and_joined_across_lines() {
        let mut reader = Reader::new(Framing::Sse);
        assert!(reader.push(b": comment\ndata: {\"a\"").is_empty());
        assert_eq!(
            reader.push(b":1}\r\n\r\ndata: x\ndata: y\n\n"),
            vec!["{\"a\":1}", "x\ny"]
        );
        assert!(reader.push(b"event: ping\ndata: [DONE]").is_empty());
        assert_eq!(reader.finish().as_deref(), Some("[DONE]"));
    }

    #[test]
    fn json_lines_are_one_event_each() {
        let mut reader = Reader::new(Framing::JsonLines);
        assert_eq!(reader.push(b"{\"a\":1}\n\n{\"b\""), vec!["{\"a\":1}"]);
        assert_eq!(reader.finish().as_deref(), Some("{\"b\""));
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("soon"), None);
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(30);
        let date = jiff::fmt::rfc2822::to_string(&later.to_zoned(jiff::tz::TimeZone::UTC)).unwrap();
        let wait = parse_retry_after(&date).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }

    #[test]
    fn backoff_stays_under_its_doubling_ceiling() {
        let policy = RetryPolicy::default();
        for attempt in 1..8 {
            let ceiling = policy.base * (1 << (attempt - 1));
            assert!(policy.backoff(attempt) <= ceiling.min(policy.max_delay));
        }
    }

    #[test]
    fn a_key_echoed_back_is_scrubbed() {
        let endpoint = Endpoint {
            name: "p".into(),
            kind: Kind::OpenAi,
            url: "http://x".into(),
            key: Some(crate::types::ApiKey::new("sk-secret-123".into())),
            key_secret: None,
            model: None,
        };
        assert_eq!(
            scrub(&endpoint, "Incorrect API key provided: sk-secret-123."),
            "Incorrect API key provided: <key>."
        );
        // Cut or masked, a long part of it goes too; short ones and other
        // text stay.
        assert_eq!(
            scrub(&endpoint, "key sk-secr****-123 or ...ecret-12 rejected; é"),
            "key sk-secr****-123 or ...<key> rejected; é"
        );
        assert_eq!(
            scrub(&endpoint, "sk-secret-1 and sk-secret-123sk-secret"),
            "<key> and <key><key>"
        );
    }
}
