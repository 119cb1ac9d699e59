//! The AI providers. `ai` is the framework: the `lord ai` commands and the
//! `lord:plugin/ai` interface. Each service lord speaks (`openai`,
//! `anthropic`, `ollama`, `huggingface`, `gemini`) is a provider of its
//! own, listed and disabled like any plugin: disabled, every profile of
//! its kind is refused, for the CLI and for plugins alike.
//!
//! A profile (`ai.profiles.<name>` in the layered configuration) names a
//! kind, a URL, a default model and the `lord secret` holding its key
//! (`AI_<NAME>_KEY` unless `key-secret` says otherwise). The key is read
//! here, into an `ApiKey` no formatting prints, and never handed to a
//! plugin: plugins reach a profile through the interface, which asks the
//! host to send the request.

use std::path::PathBuf;

use lord_ai::{ApiKey, Endpoint, Kind};
use lord_manifest::{PluginId, Version};
use lord_store::PluginState;
use serde::Serialize;
use serde_json::json;

use super::{Provider, ProviderCommand};
use crate::error::HostError;

/// The framework provider.
#[derive(Debug, Clone, Copy)]
pub struct Ai;

impl Provider for Ai {
    fn id(&self) -> PluginId {
        PluginId::from_static("ai")
    }

    fn version(&self) -> Version {
        Version::new(0, 1, 0)
    }

    fn description(&self) -> &'static str {
        "AI models: prompts, chat sessions with token budgets, templates, A/B tests and a cost \
         meter, over the service providers"
    }

    fn commands(&self) -> Vec<ProviderCommand> {
        vec![ProviderCommand {
            name: "ai",
            about: "Ask AI models: prompt, chat, sessions, logs, templates, A/B tests, prices",
        }]
    }

    fn interfaces(&self) -> &'static [&'static str] {
        &["lord:plugin/ai"]
    }

    fn config_schema(&self) -> Option<serde_json::Value> {
        Some(json!({
            "type": "object",
            "properties": {
                "ai.default-profile": {"type": "string", "description": "the profile used when none is named"},
                "ai.profiles": {"type": "object", "description": "named AI services: kind, url, model, key-secret, max-tokens"}
            }
        }))
    }
}

/// One service's provider.
#[derive(Debug, Clone, Copy)]
pub struct Service(pub Kind);

impl Provider for Service {
    fn id(&self) -> PluginId {
        PluginId::from_static(self.0.as_str())
    }

    fn version(&self) -> Version {
        Version::new(0, 1, 0)
    }

    fn description(&self) -> &'static str {
        self.0.description()
    }
}

/// A profile as `lord ai profiles` shows it: never the key, only whether
/// one is stored.
#[derive(Debug, Clone, Serialize)]
pub struct AiProfile {
    pub name: String,
    pub kind: Kind,
    pub url: String,
    pub model: Option<String>,
    pub max_tokens: Option<u32>,
    /// The `lord secret` its key is read from.
    pub key_secret: String,
    pub key_stored: bool,
    /// Whether the provider of its kind is enabled.
    pub enabled: bool,
}

/// The secret a profile's key is read from when it names none.
pub fn default_key_secret(profile: &str) -> String {
    format!("AI_{}_KEY", profile.to_ascii_uppercase().replace('-', "_"))
}

impl crate::Framework {
    /// `$LORD_HOME/ai`: templates, roles and A/B runs.
    pub fn ai_dir(&self) -> PathBuf {
        self.home().join("ai")
    }

    /// `$LORD_HOME/ai-prices.toml`.
    pub fn ai_prices_path(&self) -> PathBuf {
        self.home().join(lord_ai::PRICES_FILE)
    }

    /// The prompt log and sessions (`$LORD_HOME/ai.db`).
    pub fn ai_log(&self) -> Result<lord_ai::Log, HostError> {
        Ok(lord_ai::Log::open(&self.home().join(lord_ai::LOG_FILE))?)
    }

    /// The profile used when none is named: `ai.default-profile`, else
    /// the only profile there is.
    pub fn ai_default_profile(&self) -> Result<String, HostError> {
        let settings = self.settings()?;
        if let Some(name) = settings
            .get("ai.default-profile")
            .and_then(|v| v.as_str().map(str::to_owned))
        {
            return Ok(name);
        }
        let profiles = self.ai_profiles()?;
        match profiles.as_slice() {
            [only] => Ok(only.name.clone()),
            [] => Err(HostError::Ai(lord_ai::AiError::Profile(
                "no AI profile is set up; add one with `lord ai add NAME --kind KIND --url URL`"
                    .to_owned(),
            ))),
            _ => Err(HostError::Ai(lord_ai::AiError::Profile(format!(
                "{} AI profiles are set up; name one with --ai-profile, or set \
                 `lord config set ai.default-profile NAME`",
                profiles.len()
            )))),
        }
    }

    /// Every configured profile.
    pub fn ai_profiles(&self) -> Result<Vec<AiProfile>, HostError> {
        let tree = self.settings()?.subtree("ai.profiles");
        let Some(table) = tree.as_object() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for name in table.keys() {
            out.push(self.ai_profile(name)?);
        }
        Ok(out)
    }

    /// The profile `name`, as configured.
    pub fn ai_profile(&self, name: &str) -> Result<AiProfile, HostError> {
        Ok(self.ai_profile_and_key(name)?.0)
    }

    /// What the client needs to reach the profile `name`: refused while
    /// its kind's provider is disabled, or when its service needs a key
    /// and none is stored.
    pub fn ai_endpoint(&self, name: &str) -> Result<(Endpoint, AiProfile), HostError> {
        let (profile, key) = self.ai_profile_and_key(name)?;
        Ok((endpoint(&profile, key)?, profile))
    }

    fn ai_profile_and_key(&self, name: &str) -> Result<(AiProfile, Option<ApiKey>), HostError> {
        let kind_enabled = |kind: Kind| -> Result<bool, HostError> {
            Ok(self.store().provider_state(kind.as_str())?.state == PluginState::Enabled)
        };
        profile(
            self.settings()?,
            &self.channels().secrets,
            name,
            kind_enabled,
        )
    }
}

/// The profile `name` from `settings`, and its key from `secrets` (read
/// once, here, into an `ApiKey`); `kind_enabled` says whether the
/// provider of a kind is enabled.
pub(crate) fn profile(
    settings: &lord_config::Config,
    secrets: &lord_state::Secrets,
    name: &str,
    kind_enabled: impl Fn(Kind) -> Result<bool, HostError>,
) -> Result<(AiProfile, Option<ApiKey>), HostError> {
    let field = |f: &str| settings.get(&format!("ai.profiles.{name}.{f}"));
    let text = |f: &str| field(f).and_then(|v| v.as_str().map(str::to_owned));
    let kind = text("kind").ok_or_else(|| {
        HostError::Ai(lord_ai::AiError::Profile(format!(
            "there is no AI profile `{name}`; see `lord ai profiles`, or add it with \
             `lord ai add {name} --kind KIND --url URL`"
        )))
    })?;
    let kind = Kind::parse(&kind).ok_or_else(|| {
        HostError::Ai(lord_ai::AiError::Profile(format!(
            "the AI profile `{name}` has an unknown kind `{kind}`"
        )))
    })?;
    let key_secret = text("key-secret").unwrap_or_else(|| default_key_secret(name));
    let key = secrets
        .get(&key_secret)?
        .map(|value| ApiKey::new(value.expose().to_owned()));
    let profile = AiProfile {
        name: name.to_owned(),
        kind,
        url: text("url")
            .unwrap_or_else(|| kind.default_url().to_owned())
            .trim_end_matches('/')
            .to_owned(),
        model: text("model"),
        max_tokens: field("max-tokens")
            .and_then(|v| v.as_u64())
            .and_then(|n| u32::try_from(n).ok()),
        key_stored: key.is_some(),
        key_secret,
        enabled: kind_enabled(kind)?,
    };
    Ok((profile, key))
}

/// What the client needs to reach `profile`: refused while its kind's
/// provider is disabled, or when its service needs a key and none is
/// stored.
pub(crate) fn endpoint(profile: &AiProfile, key: Option<ApiKey>) -> Result<Endpoint, HostError> {
    let name = &profile.name;
    if !profile.enabled {
        let kind = profile.kind;
        return Err(HostError::Ai(lord_ai::AiError::Profile(format!(
            "the AI profile `{name}` uses `{kind}`, which is disabled; enable it with \
             `lord plugin enable {kind}`"
        ))));
    }
    // Only the service's own address is sure to need a key; a server of
    // the user's (llama.cpp, vLLM, a gateway) may take none.
    if key.is_none() && profile.kind.needs_key() && profile.url == profile.kind.default_url() {
        return Err(HostError::Ai(lord_ai::AiError::Profile(format!(
            "the AI profile `{name}` needs a key; store it with `lord secret set {}`",
            profile.key_secret
        ))));
    }
    Ok(Endpoint {
        name: name.clone(),
        kind: profile.kind,
        url: profile.url.clone(),
        key,
        key_secret: Some(profile.key_secret.clone()),
        model: profile.model.clone(),
    })
}
