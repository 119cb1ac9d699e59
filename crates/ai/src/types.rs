//! The words every provider shares: who says a message, what is asked,
//! what came back and what it cost. Each wire module maps these onto its
//! service's JSON; nothing here knows one service from another.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions to the model (a role's text, a summary of older turns).
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "system" => Some(Self::System),
            "user" => Some(Self::User),
            "assistant" => Some(Self::Assistant),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// What is asked of a model: the seed's `ModelRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The model; `None` takes the profile's default.
    pub model: Option<String>,
    pub messages: Vec<Message>,
    /// The most tokens to generate; `None` takes the profile's (or the
    /// service's) default. Anthropic requires one, so its wire sends 1024
    /// when neither says.
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    /// A seed for services that take one (OpenAI-compatible servers,
    /// Ollama), so a comparison can be repeated.
    pub seed: Option<u64>,
}

/// Tokens a reply consumed, as the service counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn total(self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// Why a reply ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Finish {
    /// The model finished its answer.
    Stop,
    /// It reached `max_tokens`.
    Length,
    /// The service's name for anything else, as it gave it.
    Other(String),
}

impl Finish {
    /// A reason named as OpenAI and Ollama name them (`stop`, `length`).
    pub fn from_reason(reason: &str) -> Self {
        match reason {
            "stop" => Self::Stop,
            "length" => Self::Length,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::Other(other) => other,
        }
    }
}

/// A whole reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    /// The model that answered, as the service named it.
    pub model: String,
    pub usage: Usage,
    pub finish: Finish,
    pub timing: Timing,
}

/// How long a reply took, measured by lord from sending the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Until the first piece of text arrived (the whole reply, unstreamed).
    pub first_token_ms: f64,
    pub total_ms: f64,
}

impl Timing {
    /// Output tokens per second after the first one arrived; `None` when
    /// the reply came in one piece.
    pub fn tokens_per_second(&self, usage: Usage) -> Option<f64> {
        let generating = (self.total_ms - self.first_token_ms) / 1000.0;
        (generating > 0.0 && usage.output_tokens > 1)
            .then(|| (usage.output_tokens - 1) as f64 / generating)
    }
}

/// The services lord speaks to, each a wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// OpenAI's chat completions, and every server that speaks them
    /// (llama.cpp's `llama-server`, vLLM, LM Studio, OpenRouter).
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
    /// Ollama's own `/api/chat`.
    Ollama,
    /// Hugging Face text-generation inference (`/generate`,
    /// `/generate_stream`).
    HuggingFace,
    /// Google Gemini's `generateContent`.
    Gemini,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::OpenAi,
        Kind::Anthropic,
        Kind::Ollama,
        Kind::HuggingFace,
        Kind::Gemini,
    ];

    /// The name in configuration and on the command line; also the id of
    /// the first-party provider that serves it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Ollama => "ollama",
            Self::HuggingFace => "huggingface",
            Self::Gemini => "gemini",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The service's own address, for a profile that names none.
    pub fn default_url(self) -> &'static str {
        match self {
            Self::OpenAi => "https://api.openai.com/v1",
            Self::Anthropic => "https://api.anthropic.com/v1",
            Self::Ollama => "http://127.0.0.1:11434",
            Self::HuggingFace => "https://api-inference.huggingface.co/models",
            Self::Gemini => "https://generativelanguage.googleapis.com/v1beta",
        }
    }

    /// Whether the service refuses requests without a key.
    pub fn needs_key(self) -> bool {
        match self {
            Self::OpenAi | Self::Anthropic | Self::HuggingFace | Self::Gemini => true,
            Self::Ollama => false,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::OpenAi => {
                "OpenAI chat completions, and any OpenAI-compatible server (llama.cpp, vLLM)"
            }
            Self::Anthropic => "Anthropic's Messages API (Claude)",
            Self::Ollama => "Ollama's own chat API, on this machine or another",
            Self::HuggingFace => "Hugging Face text-generation inference",
            Self::Gemini => "Google Gemini's generateContent API",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API key. Never printed: `Debug` shows its length only, and there is
/// no `Display`, so a key cannot reach a log or an error by formatting.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: String) -> Self {
        Self(key)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey(<{} bytes hidden>)", self.0.len())
    }
}

/// Where and how to reach one service: a named profile of the user's
/// configuration (`ai.profiles.<name>`), with its key already fetched
/// from `lord secret`.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The profile's name: what `ai(NAME)` grants.
    pub name: String,
    pub kind: Kind,
    /// The base address, without a trailing slash.
    pub url: String,
    pub key: Option<ApiKey>,
    /// The `lord secret` the key is read from, named in errors about it.
    pub key_secret: Option<String>,
    /// The model used when a request names none.
    pub model: Option<String>,
}
