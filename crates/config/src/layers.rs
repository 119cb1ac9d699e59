//! Loading the layers into one [`Config`], with origins and checks.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::ConfigError;

/// Where a value can come from, lowest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    Default,
    System,
    User,
    Project,
    Env,
    Flag,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Default => "default",
            Layer::System => "system",
            Layer::User => "user",
            Layer::Project => "project",
            Layer::Env => "env",
            Layer::Flag => "flag",
        }
    }
}

/// Where one value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub layer: Layer,
    /// The file, the variable or the flag.
    pub source: String,
    /// The profile whose table held it, if any.
    pub profile: Option<String>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.layer {
            Layer::Default => f.write_str("built-in default")?,
            Layer::System | Layer::User | Layer::Project => {
                write!(f, "{} file {}", self.layer.as_str(), self.source)?;
            }
            Layer::Env => write!(f, "environment variable {}", self.source)?,
            Layer::Flag => write!(f, "flag --set {}", self.source)?,
        }
        if let Some(profile) = &self.profile {
            write!(f, " [profile {profile}]")?;
        }
        Ok(())
    }
}

/// What to read. Files that do not exist are skipped.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub system: Option<PathBuf>,
    pub user: Option<PathBuf>,
    pub project: Option<PathBuf>,
    /// The process environment: `LORD_*` variables naming one of lord's
    /// keys (`LORD_LOG__LEVEL`) or a plugin's (`LORD_PLUGINS__NOTES__MAX`)
    /// are configuration; others are left alone.
    pub env: Vec<(String, String)>,
    /// `--set key=value` flags, in order.
    pub flags: Vec<String>,
    pub profile: Option<String>,
}

impl Sources {
    /// The files, in precedence order.
    pub fn files(&self) -> Vec<(Layer, &Path)> {
        [
            (Layer::System, self.system.as_deref()),
            (Layer::User, self.user.as_deref()),
            (Layer::Project, self.project.as_deref()),
        ]
        .into_iter()
        .filter_map(|(layer, path)| path.map(|p| (layer, p)))
        .collect()
    }
}

/// `LORD_*` variables that are lord's own settings, not configuration.
const NOT_CONFIG: &[&str] = &["LORD_HOME", "LORD_FAILPOINT", "LORD_PROFILE"];

/// A problem found when checking values against what they may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub origin: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: `{}` {}", self.origin, self.key, self.message)
    }
}

/// The merged configuration: dotted keys to values, each with its origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    values: BTreeMap<String, (Value, Origin)>,
    profile: Option<String>,
}

/// lord's own keys: default and what they may hold.
fn defaults() -> Vec<(&'static str, Value)> {
    vec![
        ("log.level", Value::from("warn")),
        ("theme", Value::from("auto")),
        ("events.retention-days", Value::from(7)),
        ("events.max-payload-kib", Value::from(64)),
        ("events.plugin-budget-kib", Value::from(4096)),
        ("events.plugin-budget-events", Value::from(10_000)),
        ("shared.max-value-kib", Value::from(64)),
        ("messages.max-payload-kib", Value::from(64)),
        ("secrets.backend", Value::from("auto")),
        // Plugin output on a terminal is neutralised (colour passes, other
        // control sequences are shown escaped); these let a person opt out
        // for every plugin or for the ones named.
        ("output.raw", Value::from(false)),
        // Opt-in: send the registry each day's run and failure counts per
        // plugin version (nothing else), in the background.
        ("registry.share-usage", Value::from(false)),
        // Trust a registry's signed index only from a root pinned with
        // `lord registry pin`, never on first use. Set true in the
        // machine's file, no user or project can turn it off.
        ("registry.require-pinned-root", Value::from(false)),
        // Local usage analytics (`lord analytics report`): on, for the
        // user's own eyes only; false stops recording and deletes it.
        ("analytics.enabled", Value::from(true)),
        ("output.raw-plugins", Value::Array(Vec::new())),
        // `lord monitor stream` and `push`: time between samples.
        ("monitor.interval", Value::from("1s")),
        // Per-minute quotas of every plugin (each may be set for one plugin
        // as `quota.plugins.<id>.<name>`), generous enough that honest work
        // never meets them (10,000 calls a second: a micro-plugin pipeline
        // over a large file makes one call per record); and how many
        // refusals of one quota within how many minutes disable a plugin.
        ("quota.calls-per-minute", Value::from(600_000)),
        ("quota.cpu-ms-per-minute", Value::from(60_000)),
        ("quota.events-per-minute", Value::from(60_000)),
        ("quota.messages-per-minute", Value::from(60_000)),
        ("quota.http-requests-per-minute", Value::from(600)),
        ("quota.data-mib", Value::from(1024)),
        ("quota.strikes", Value::from(5)),
        ("quota.strike-minutes", Value::from(10)),
    ]
    .into_iter()
    .chain(crate::scan::defaults())
    .collect()
}

/// The quotas a plugin's own line may set: `quota.plugins.<id>.<name>`.
const PLUGIN_QUOTAS: &[&str] = &[
    "calls-per-minute",
    "cpu-ms-per-minute",
    "events-per-minute",
    "messages-per-minute",
    "http-requests-per-minute",
    "data-mib",
];

/// Checks a quota's value: a whole number from 1 to a billion.
fn check_quota(value: &Value) -> Result<(), String> {
    match value.as_u64() {
        Some(1..=1_000_000_000) => Ok(()),
        _ => Err(format!(
            "must be a whole number from 1 to 1000000000; got {value}"
        )),
    }
}

/// Checks one of lord's own keys; `None` for keys lord does not know.
fn check_own(key: &str, value: &Value) -> Option<Result<(), String>> {
    let one_of = |allowed: &[&str]| match value.as_str() {
        Some(s) if allowed.contains(&s) => Ok(()),
        _ => Err(format!(
            "must be one of {}; got {value}",
            allowed.join(", ")
        )),
    };
    Some(match key {
        "log.level" => one_of(&["trace", "debug", "info", "warn", "error"]),
        "theme" => one_of(&["auto", "light", "dark", "none"]),
        "secrets.backend" => one_of(&["auto", "keyring", "file"]),
        "registry.url" => match value.as_str() {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => Ok(()),
            _ => Err(format!(
                "must be the registry's URL, like \"http://127.0.0.1:7878\"; got {value}"
            )),
        },
        // The monitor parses the duration itself (jiff's friendly format);
        // here only its shape is checked, since this crate has no clock.
        "monitor.interval" => match value.as_str() {
            Some(text) if text.starts_with(|c: char| c.is_ascii_digit()) => Ok(()),
            _ => Err(format!(
                "must be a duration like \"1s\", \"500ms\" or \"1m\"; got {value}"
            )),
        },
        // Alert rules: each table is checked by the monitor when it reads
        // them (`lord alert list` names the mistake); here, their shape.
        // Micro-plugin routes likewise, checked by lord-micro when read.
        "monitor.alerts" | "micro.routes" => match value.as_array() {
            Some(rules) if rules.iter().all(Value::is_object) => Ok(()),
            _ => Err(format!("must be a list of [[{key}]] tables; got {value}")),
        },
        "monitor.notify.webhook.url" => match value.as_str() {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => Ok(()),
            _ => Err(not_a_web_url(value)),
        },
        "monitor.notify.webhook.secret"
        | "monitor.notify.email.server"
        | "monitor.notify.email.from"
        | "monitor.notify.email.username"
        | "monitor.notify.email.password-secret"
        | "monitor.notify.email.ca-file" => match value.as_str() {
            Some(text) if !text.is_empty() => Ok(()),
            _ => Err(format!("must be a string; got {value}")),
        },
        "monitor.notify.email.port" => match value.as_u64() {
            Some(1..=65_535) => Ok(()),
            _ => Err(format!("must be a port number; got {value}")),
        },
        "monitor.notify.email.to" => match value.as_array() {
            Some(to) if !to.is_empty() && to.iter().all(Value::is_string) => Ok(()),
            _ => Err(format!(
                "must be a list of addresses, like [\"ops@example.org\"]; got {value}"
            )),
        },
        "output.raw"
        | "registry.share-usage"
        | "registry.require-pinned-root"
        | "analytics.enabled" => match value.as_bool() {
            Some(_) => Ok(()),
            None => Err(format!("must be true or false; got {value}")),
        },
        "output.raw-plugins" => match value.as_array() {
            Some(ids) if ids.iter().all(|id| id.as_str().is_some_and(is_plugin_id)) => Ok(()),
            _ => Err(format!(
                "must be a list of plugin ids, like [\"notes\"]; got {value}"
            )),
        },
        "events.max-payload-kib" | "shared.max-value-kib" | "messages.max-payload-kib" => {
            match value.as_u64() {
                Some(1..=16_384) => Ok(()),
                _ => Err(format!(
                    "must be a whole number of KiB from 1 to 16384; got {value}"
                )),
            }
        }
        "events.plugin-budget-kib" => match value.as_u64() {
            Some(1..=1_048_576) => Ok(()),
            _ => Err(format!(
                "must be a whole number of KiB from 1 to 1048576; got {value}"
            )),
        },
        "events.plugin-budget-events" => match value.as_u64() {
            Some(1..=10_000_000) => Ok(()),
            _ => Err(format!(
                "must be a whole number of events from 1 to 10000000; got {value}"
            )),
        },
        "ai.default-profile" => match value.as_str() {
            Some(name) if crate::ai::is_profile_name(name) => Ok(()),
            _ => Err(format!(
                "must be an AI profile's name, like \"local\"; got {value}"
            )),
        },
        _ if key.starts_with("ai.profiles.") => crate::ai::check_profile(key, value),
        _ if key.starts_with("db.profiles.") => crate::db::check_profile(key, value),
        _ if key.starts_with("quota.") => return check_quota_key(key, value),
        _ if key.starts_with("scan.") => return crate::scan::check(key, value),
        "events.retention-days" => match value.as_u64() {
            Some(1..=3650) => Ok(()),
            _ => Err(format!(
                "must be a whole number of days from 1 to 3650; got {value}"
            )),
        },
        _ => return None,
    })
}

/// Checks one of the `quota.*` keys; `None` for a key lord does not know.
fn check_quota_key(key: &str, value: &Value) -> Option<Result<(), String>> {
    Some(match key {
        "quota.calls-per-minute"
        | "quota.cpu-ms-per-minute"
        | "quota.events-per-minute"
        | "quota.messages-per-minute"
        | "quota.http-requests-per-minute"
        | "quota.data-mib"
        | "quota.strike-minutes" => check_quota(value),
        // 0: refusals never disable a plugin.
        "quota.strikes" => match value.as_u64() {
            Some(0..=1_000_000) => Ok(()),
            _ => Err(format!(
                "must be a whole number of refusals from 0 (never disable) to 1000000; got {value}"
            )),
        },
        _ if key.starts_with("quota.plugins.") => {
            let rest = key.strip_prefix("quota.plugins.").unwrap_or_default();
            match rest.split_once('.') {
                Some((id, name)) if is_plugin_id(id) && PLUGIN_QUOTAS.contains(&name) => {
                    check_quota(value)
                }
                _ => Err(format!(
                    "is not a plugin's quota; write `quota.plugins.<id>.<name>` with a name \
                     among {}",
                    PLUGIN_QUOTAS.join(", ")
                )),
            }
        }
        _ => return None,
    })
}

/// The shape of a plugin id (lowercase letters, digits and single `-`,
/// starting with a letter); this crate does not depend on the manifest's
/// typed ids, and a wrong id here only fails to match.
fn is_plugin_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Splits a dotted key into segments, refusing empty ones.
pub(crate) fn segments(key: &str) -> Result<Vec<&str>, ConfigError> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ConfigError::BadKey {
            key: key.to_owned(),
            problem: "use dot-separated names, like `log.level` or `plugins.notes.max`".to_owned(),
        });
    }
    Ok(parts)
}

/// A value written in TOML (`5`, `true`, `"text"`, `[1, 2]`), or else the
/// text itself.
fn parse_value(text: &str) -> Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or_else(|| Value::from(text))
}

fn flatten(
    prefix: &str,
    value: Value,
    origin: &Origin,
    out: &mut BTreeMap<String, (Value, Origin)>,
) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, origin, out);
            }
        }
        leaf @ (Value::Null
        | Value::Bool(_)
        | Value::Number(_)
        | Value::String(_)
        | Value::Array(_)) => {
            // A value replaces a whole table set lower down, and the reverse.
            out.retain(|k, _| !k.starts_with(&format!("{prefix}.")));
            let mut parent = prefix;
            while let Some((head, _)) = parent.rsplit_once('.') {
                out.remove(head);
                parent = head;
            }
            out.insert(prefix.to_owned(), (leaf, origin.clone()));
        }
    }
}

/// One file's base table and its `[profile.NAME]` tables.
type FileTables = (Value, Map<String, Value>);

/// Reads one file: its base table and its profile tables.
fn read_file(path: &Path) -> Result<Option<FileTables>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let mut value = serde_json::to_value(table).map_err(|e| ConfigError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let profiles = match value.as_object_mut().and_then(|m| m.remove("profile")) {
        Some(Value::Object(profiles)) => profiles,
        Some(_) => {
            return Err(ConfigError::Syntax {
                path: path.to_path_buf(),
                message: "`profile` must be a table of `[profile.NAME]` tables".to_owned(),
            });
        }
        None => Map::new(),
    };
    Ok(Some((value, profiles)))
}

impl Config {
    /// Reads every layer and merges them. Fails on a file that does not
    /// parse, a chosen profile no file defines, or one of lord's own keys
    /// holding a value it cannot (naming where that value came from).
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let mut values = BTreeMap::new();
        let default = Origin {
            layer: Layer::Default,
            source: String::new(),
            profile: None,
        };
        for (key, value) in defaults() {
            values.insert(key.to_owned(), (value, default.clone()));
        }
        let mut profile_found = false;
        let mut machine = Vec::new();
        for (layer, path) in sources.files() {
            let Some((base, mut profiles)) = read_file(path)? else {
                continue;
            };
            let origin = Origin {
                layer,
                source: path.display().to_string(),
                profile: None,
            };
            flatten("", base, &origin, &mut values);
            if layer == Layer::System {
                machine = crate::edit::machine_locks(&values);
            }
            if let Some(name) = &sources.profile
                && let Some(overlay) = profiles.remove(name)
            {
                profile_found = true;
                let origin = Origin {
                    profile: Some(name.clone()),
                    ..origin
                };
                flatten("", overlay, &origin, &mut values);
            }
        }
        if let Some(name) = &sources.profile
            && !profile_found
        {
            return Err(ConfigError::UnknownProfile(name.clone()));
        }
        for (name, text) in &sources.env {
            let Some(rest) = name.strip_prefix("LORD_") else {
                continue;
            };
            if NOT_CONFIG.contains(&name.as_str()) || rest.is_empty() {
                continue;
            }
            let key = rest
                .to_lowercase()
                .split("__")
                .map(|s| s.replace('_', "-"))
                .collect::<Vec<_>>()
                .join(".");
            // Other programs' and the user's own `LORD_*` variables are not
            // typos to refuse: only lord's keys and plugin tables count.
            if !(key.starts_with("plugins.")
                || key.starts_with("quota.plugins.")
                || key.starts_with("ai.profiles.")
                || key == "registry.url"
                || defaults().iter().any(|(k, _)| *k == key))
            {
                continue;
            }
            segments(&key)?;
            let origin = Origin {
                layer: Layer::Env,
                source: name.clone(),
                profile: None,
            };
            flatten(&key, parse_value(text), &origin, &mut values);
        }
        for flag in &sources.flags {
            let (key, text) = flag.split_once('=').ok_or_else(|| ConfigError::BadKey {
                key: flag.clone(),
                problem: "write --set KEY=VALUE, like --set log.level=debug".to_owned(),
            })?;
            segments(key)?;
            let origin = Origin {
                layer: Layer::Flag,
                source: flag.clone(),
                profile: None,
            };
            flatten(key, parse_value(text), &origin, &mut values);
        }
        // What the machine's file turned on, no later layer turns off.
        for (key, locked) in machine {
            values.insert(key, locked);
        }
        let config = Self {
            values,
            profile: sources.profile.clone(),
        };
        if let Some(problem) = config.check_own().into_iter().next() {
            return Err(ConfigError::Invalid {
                key: problem.key,
                origin: problem.origin,
                problem: problem.message,
            });
        }
        Ok(config)
    }

    /// Problems with lord's own keys: wrong values, and keys lord does not
    /// know outside `[plugins.*]` (usually typos).
    fn check_own(&self) -> Vec<Problem> {
        let known: Vec<&str> = defaults().into_iter().map(|(k, _)| k).collect();
        let mut problems = Vec::new();
        for (key, (value, origin)) in &self.values {
            if key.starts_with("plugins.") {
                continue;
            }
            if origin.layer == Layer::Project
                && let Some(message) = crate::kept::kept_from_projects(key)
            {
                let (key, origin) = (key.clone(), origin.to_string());
                problems.push(Problem {
                    key,
                    origin,
                    message,
                });
                continue;
            }
            // `[requires]`: the plugins a project wants, by id and range.
            if let Some(id) = key.strip_prefix("requires.") {
                let ok = !id.contains('.')
                    && value
                        .as_str()
                        .is_some_and(|range| semver::VersionReq::parse(range).is_ok());
                if !ok {
                    problems.push(Problem {
                        key: key.clone(),
                        origin: origin.to_string(),
                        message: format!(
                            "must be a version range for plugin `{id}`, like \"^1.2\"; got {value}"
                        ),
                    });
                }
                continue;
            }
            let message = match check_own(key, value) {
                Some(Ok(())) => continue,
                Some(Err(message)) => message,
                None => format!(
                    "is not a lord setting; known: {}, registry.url, requires.<id>, \
                     quota.plugins.<id>.<name>, ai.default-profile, ai.profiles.<name>.*, and \
                     plugins.<id>.*",
                    known.join(", ")
                ),
            };
            problems.push(Problem {
                key: key.clone(),
                origin: origin.to_string(),
                message,
            });
        }
        problems
    }

    pub fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// A leaf value, or the table under `key` as an object.
    pub fn get(&self, key: &str) -> Option<Value> {
        if let Some((value, _)) = self.values.get(key) {
            return Some(value.clone());
        }
        let table = self.subtree(key);
        (!table.as_object().is_some_and(Map::is_empty)).then_some(table)
    }

    pub fn origin(&self, key: &str) -> Option<&Origin> {
        self.values.get(key).map(|(_, origin)| origin)
    }

    /// Every leaf, in key order, with its origin.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Value, &Origin)> {
        self.values.iter().map(|(k, (v, o))| (k.as_str(), v, o))
    }

    /// The leaves under `prefix`, nested back into an object.
    pub fn subtree(&self, prefix: &str) -> Value {
        let mut root = Map::new();
        let lead = format!("{prefix}.");
        for (key, (value, _)) in &self.values {
            let Some(rest) = key.strip_prefix(&lead) else {
                continue;
            };
            let mut node = &mut root;
            let parts: Vec<&str> = rest.split('.').collect();
            for (i, part) in parts.iter().enumerate() {
                if i + 1 == parts.len() {
                    node.insert((*part).to_owned(), value.clone());
                } else {
                    let next = node
                        .entry((*part).to_owned())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if !next.is_object() {
                        *next = Value::Object(Map::new());
                    }
                    let Value::Object(map) = next else {
                        break;
                    };
                    node = map;
                }
            }
        }
        Value::Object(root)
    }

    /// The whole configuration as one nested object.
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        for (key, (value, _)) in &self.values {
            let top = key.split('.').next().unwrap_or(key);
            if !root.contains_key(top) {
                let v = self.get(top).unwrap_or_else(|| value.clone());
                root.insert(top.to_owned(), v);
            }
        }
        Value::Object(root)
    }

    /// A plugin's configuration: its `[plugins.<id>]` table (empty if none).
    pub fn plugin(&self, id: &str) -> Value {
        self.subtree(&format!("plugins.{id}"))
    }

    /// Checks each plugin's table against the schema its manifest declares.
    pub fn check_plugins<'a>(
        &self,
        schemas: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (id, schema) in schemas {
            let origin_of = |path: &str| {
                let key = if path.is_empty() {
                    format!("plugins.{id}")
                } else {
                    format!("plugins.{id}{}", path.replace('/', "."))
                };
                let origin = self
                    .values
                    .range(key.clone()..)
                    .find(|(k, _)| k.starts_with(&key))
                    .map_or_else(|| "configuration".to_owned(), |(_, (_, o))| o.to_string());
                (key, origin)
            };
            let validator = match jsonschema::validator_for(schema) {
                Ok(v) => v,
                Err(e) => {
                    problems.push(Problem {
                        key: format!("plugins.{id}"),
                        origin: format!("plugin `{id}`'s manifest"),
                        message: format!("has a configuration schema that does not compile: {e}"),
                    });
                    continue;
                }
            };
            let config = self.plugin(id);
            for error in validator.iter_errors(&config) {
                let (key, origin) = origin_of(&error.instance_path().to_string());
                problems.push(Problem {
                    key,
                    origin,
                    message: error.to_string(),
                });
            }
        }
        problems
    }
}

/// A TOML file's text (`None` when there is no file) and its document
/// (empty then), for an edit that keeps comments and layout.
pub(crate) fn read_document(
    path: &Path,
) -> Result<(Option<String>, toml_edit::DocumentMut), ConfigError> {
    let old = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(ConfigError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let doc = old
        .as_deref()
        .unwrap_or("")
        .parse()
        .map_err(|e: toml_edit::TomlError| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_owned(),
        })?;
    Ok((old, doc))
}

/// The refusal of a value that is not an http:// or https:// URL, naming
/// what it is by its scheme alone: the rest may hold a password or a
/// webhook's token (`ftp://user:secret@host`).
pub(crate) fn not_a_web_url(value: &Value) -> String {
    let got = match value.as_str().and_then(|t| t.split_once("://")) {
        Some((scheme, _)) => format!("a `{}://` URL", scheme.escape_debug()),
        None if value.is_string() => "text that is not a URL".to_owned(),
        None => value.to_string(),
    };
    format!("must be an http:// or https:// URL; got {got}")
}

/// Replaces a file's content atomically and durably (`lord-file`: temp
/// file, sync, rename, folder sync), making its folder first. Without the
/// folder sync a profile removed (`lord db remove`) could come back after
/// a power cut though the removal was reported.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ConfigError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    if !dir.as_os_str().is_empty() {
        std::fs::create_dir_all(dir).map_err(|source| ConfigError::Io {
            action: "create the folder of",
            path: path.to_path_buf(),
            source,
        })?;
    }
    lord_file::write_atomic(path, bytes).map_err(|e| ConfigError::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    })
}
