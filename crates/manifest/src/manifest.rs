//! The `plugin.toml` manifest in its validated form, its serialization back
//! to TOML, and the advice given about it. Parsing lives in `validate.rs`, so
//! the only way to obtain these types from text goes through validation.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use semver::{Version, VersionReq};
use serde::{Serialize, Serializer};

use crate::error::SerializeError;
use crate::host_api::{host_api_satisfied_by, host_api_version};
use crate::ids::{CommandName, PluginId};
use crate::micro::MicroSpec;
use crate::permission::Permission;
use crate::risk::{RiskLevel, derive_risk};

/// The conventional file name of a manifest inside a plugin directory.
pub const MANIFEST_FILE: &str = "plugin.toml";

/// A validated plugin manifest.
///
/// There is deliberately no risk field: the risk is always derived from
/// `permissions` (see [`Manifest::risk_level`]) so it cannot be understated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub plugin: PluginMeta,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dependencies: BTreeMap<PluginId, VersionReq>,
    /// Written as `[permissions] request = [...]`, as in the file.
    #[serde(
        serialize_with = "serialize_permissions",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub permissions: Vec<Permission>,
    /// `[permissions] reasons`: the author's word on why each requested
    /// permission is needed, shown at install and in the docs. Written back
    /// by [`Manifest::to_toml_string`].
    #[serde(skip)]
    pub permission_reasons: BTreeMap<Permission, String>,
    pub limits: Limits,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandSpec>,
    /// Micro-plugins the component exports (through `lord:plugin/micro`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub micro: Vec<MicroSpec>,
    /// `[config] schema`: the JSON Schema the plugin's configuration
    /// (`[plugins.<id>]` in lord's config files) must satisfy.
    #[serde(
        rename = "config",
        serialize_with = "serialize_config",
        skip_serializing_if = "Option::is_none"
    )]
    pub config_schema: Option<serde_json::Value>,
    /// `[messages] accept = true`: other plugins granted `message(<id>)`
    /// may send it requests.
    #[serde(
        rename = "messages",
        serialize_with = "serialize_messages",
        skip_serializing_if = "is_false"
    )]
    pub accepts_messages: bool,
    /// `[[events.filter]]`: per subscribed pattern, deliver only events
    /// whose payload holds a value at a JSON pointer.
    #[serde(
        rename = "events",
        serialize_with = "serialize_event_filters",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub event_filters: Vec<EventFilter>,
    /// `[[routes]]`: A/B splits and gradual rollouts between the plugin's
    /// own micro handlers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<crate::route::RouteSpec>,
}

/// One subscription filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventFilter {
    /// One of the manifest's `events-subscribe` patterns.
    #[serde(serialize_with = "serialize_topic")]
    pub pattern: crate::topic::Topic,
    /// A JSON pointer into the payload, like `/status`.
    pub field: String,
    pub equals: serde_json::Value,
}

fn serialize_topic<S: Serializer>(
    topic: &crate::topic::Topic,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(topic.as_str())
}

/// Written as `[[events.filter]]`, as in the file.
fn serialize_event_filters<S: Serializer>(
    filters: &[EventFilter],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Section<'a> {
        filter: &'a [EventFilter],
    }
    Section { filter: filters }.serialize(serializer)
}

/// Written as `[config] schema = ...`, as in the file.
fn serialize_config<S: Serializer>(
    schema: &Option<serde_json::Value>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Section<'a> {
        schema: &'a Option<serde_json::Value>,
    }
    Section { schema }.serialize(serializer)
}

/// Written as `[messages] accept = true`, as in the file.
fn serialize_messages<S: Serializer>(accept: &bool, serializer: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Section {
        accept: bool,
    }
    Section { accept: *accept }.serialize(serializer)
}

/// The `[plugin]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PluginMeta {
    pub id: PluginId,
    /// Human-readable name, 1..=64 characters.
    pub name: String,
    pub version: Version,
    /// Up to 512 characters; empty when not given.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    /// An SPDX license expression, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    pub category: Category,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Which host API versions the plugin works with.
    pub host_api: VersionReq,
    /// Relative path of the built component inside the plugin directory,
    /// `/`-separated, without `.` or `..` segments, ending in `.wasm`.
    pub component: String,
}

/// What kind of tool a plugin is, for listings and search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Utility,
    Development,
    Data,
    Network,
    System,
    Security,
    Productivity,
    Integration,
    #[default]
    Other,
}

impl Category {
    /// Every category, in documentation order.
    pub const ALL: [Category; 9] = [
        Self::Utility,
        Self::Development,
        Self::Data,
        Self::Network,
        Self::System,
        Self::Security,
        Self::Productivity,
        Self::Integration,
        Self::Other,
    ];

    /// The lowercase name used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Utility => "utility",
            Self::Development => "development",
            Self::Data => "data",
            Self::Network => "network",
            Self::System => "system",
            Self::Security => "security",
            Self::Productivity => "productivity",
            Self::Integration => "integration",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no category.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown category `{0}`; expected one of: utility, development, data, network, system, security, productivity, integration, other"
)]
pub struct CategoryError(pub String);

impl FromStr for Category {
    type Err = CategoryError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|category| category.as_str() == text)
            .ok_or_else(|| CategoryError(text.to_owned()))
    }
}

/// The `[limits]` table: resources one run of the plugin may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Limits {
    pub max_execution_ms: u64,
    pub max_memory_mib: u64,
    pub max_output_kib: u64,
    /// The plugin's own stored data (keys plus values, session and
    /// persistent together).
    pub max_data_kib: u64,
    /// Files, directories, sockets, streams and other host resources one
    /// instance may hold open at once.
    pub max_open_handles: u64,
}

impl Limits {
    /// Allowed `max-execution-ms`: up to ten minutes, since a plugin run
    /// blocks the user's terminal.
    pub const EXECUTION_MS_RANGE: RangeInclusive<u64> = 1..=600_000;
    /// Allowed `max-memory-mib`: up to 4 GiB, the wasm32 address space.
    pub const MEMORY_MIB_RANGE: RangeInclusive<u64> = 1..=4096;
    /// Allowed `max-output-kib`: up to 64 MiB of captured output.
    pub const OUTPUT_KIB_RANGE: RangeInclusive<u64> = 1..=65536;
    /// Allowed `max-data-kib`: up to 1 GiB of stored data; 0 stores nothing.
    pub const DATA_KIB_RANGE: RangeInclusive<u64> = 0..=1_048_576;
    /// Allowed `max-open-handles`: a few for the standard streams, and at
    /// most 4096, well below a process's usual descriptor limit.
    pub const OPEN_HANDLES_RANGE: RangeInclusive<u64> = 8..=4096;

    /// The execution time limit as a duration.
    pub fn max_execution(&self) -> Duration {
        Duration::from_millis(self.max_execution_ms)
    }

    /// The memory limit in bytes.
    pub fn max_memory_bytes(&self) -> u64 {
        self.max_memory_mib.saturating_mul(1024 * 1024)
    }

    /// The output limit in bytes.
    pub fn max_output_bytes(&self) -> u64 {
        self.max_output_kib.saturating_mul(1024)
    }

    /// The data quota in bytes.
    pub fn max_data_bytes(&self) -> u64 {
        self.max_data_kib.saturating_mul(1024)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_execution_ms: 5000,
            max_memory_mib: 64,
            max_output_kib: 1024,
            max_data_kib: 1024,
            max_open_handles: 256,
        }
    }
}

/// One `[[commands]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandSpec {
    pub name: CommandName,
    /// One-line help, 1..=200 characters.
    pub about: String,
    /// Positional arguments in order: required ones first, and only the last
    /// one may be `multiple`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ArgSpec>,
    /// Its answer depends only on its arguments, its build, its grants and
    /// its configuration, so the host may answer from the result cache
    /// without running it (`pure = true`).
    #[serde(skip_serializing_if = "is_false")]
    pub pure: bool,
}

/// One `[[commands.args]]` entry: a positional argument, or a switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgSpec {
    pub name: CommandName,
    /// Up to 200 characters; empty when not given.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub help: String,
    #[serde(skip_serializing_if = "is_false")]
    pub required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub multiple: bool,
    /// A switch (`--NAME`) instead of a positional value; the plugin sees
    /// it as the value `true` when given and not at all otherwise.
    #[serde(skip_serializing_if = "is_false")]
    pub flag: bool,
}

pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

fn serialize_permissions<S: Serializer>(
    permissions: &[Permission],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Section<'a> {
        request: &'a [Permission],
    }
    Section {
        request: permissions,
    }
    .serialize(serializer)
}

impl Manifest {
    /// The plugin's risk: that of its riskiest permission.
    pub fn risk_level(&self) -> RiskLevel {
        derive_risk(&self.permissions)
    }

    /// The manifest as `plugin.toml` text; parsing it gives back an equal
    /// manifest.
    pub fn to_toml_string(&self) -> Result<String, SerializeError> {
        let text = toml::to_string(self).map_err(|error| SerializeError(error.to_string()))?;
        if self.permission_reasons.is_empty() {
            return Ok(text);
        }
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|error| SerializeError(error.to_string()))?;
        let reasons: toml::Table = self
            .permission_reasons
            .iter()
            .map(|(p, why)| (p.to_string(), toml::Value::String(why.clone())))
            .collect();
        if let Some(toml::Value::Table(section)) = table.get_mut("permissions") {
            section.insert("reasons".to_owned(), toml::Value::Table(reasons));
        }
        toml::to_string(&table).map_err(|error| SerializeError(error.to_string()))
    }

    /// Why the plugin needs `permission`, in its author's words, if said.
    pub fn reason_for(&self, permission: &Permission) -> Option<&str> {
        self.permission_reasons.get(permission).map(String::as_str)
    }

    /// Things that are allowed but probably unintended or worth a second
    /// look, for `validate`-style commands. Empty for a polished manifest.
    pub fn warnings(&self) -> Vec<String> {
        let plugin = &self.plugin;
        let mut warnings = Vec::new();
        if plugin.description.is_empty() {
            warnings.push("no `description`: listings will show nothing but the name".to_owned());
        }
        if plugin.keywords.is_empty() {
            warnings.push("no `keywords`: the plugin will be harder to find by search".to_owned());
        }
        if plugin.authors.is_empty() {
            warnings.push("no `authors`: users cannot tell who publishes the plugin".to_owned());
        }
        if plugin.license.is_none() {
            warnings.push(
                "no `license`: users cannot tell on what terms they may use the plugin".to_owned(),
            );
        }
        if !host_api_satisfied_by(&plugin.host_api) {
            warnings.push(format!(
                "`host-api` = \"{}\" does not accept this host's API {}; the plugin will be refused",
                plugin.host_api,
                host_api_version()
            ));
        }
        if self.commands.is_empty() {
            warnings.push(
                "no `[[commands]]`: the plugin cannot be run from the command line".to_owned(),
            );
        }
        for permission in &self.permissions {
            let risk = permission.risk();
            if risk >= RiskLevel::High {
                warnings.push(format!(
                    "permission `{permission}` is {risk} risk; users must approve it explicitly, so request the narrowest permission that works"
                ));
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{GOOD, MINIMAL};
    use crate::validate::parse;

    #[test]
    fn good_manifest_is_parsed() {
        let manifest = parse("plugin.toml", GOOD).unwrap();
        let plugin = &manifest.plugin;
        assert_eq!(plugin.id.as_str(), "hello");
        assert_eq!(plugin.version, Version::new(0, 1, 0));
        assert_eq!(plugin.category, Category::Utility);
        assert_eq!(plugin.license.as_deref(), Some("MIT"));
        assert_eq!(
            manifest.dependencies.get("other-plugin"),
            Some(&VersionReq::parse("^1.2").unwrap())
        );
        let permissions: Vec<String> = manifest
            .permissions
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            permissions,
            [
                "fs-read($PROJECT)",
                "net(api.example.com:443)",
                "env(HOME)",
                "tty"
            ]
        );
        assert_eq!(manifest.limits, Limits::default());
        assert_eq!(manifest.commands.len(), 1);
        assert_eq!(manifest.commands[0].args[0].name.as_str(), "name");
        assert_eq!(manifest.risk_level(), RiskLevel::High);
        assert_eq!(
            manifest.warnings(),
            [
                "permission `net(api.example.com:443)` is high risk; users must approve it explicitly, so request the narrowest permission that works"
            ]
        );
    }

    #[test]
    fn event_filters_refine_only_requested_subscriptions() {
        let with = |extra: &str| format!("{MINIMAL}{extra}");
        let good = with(
            "[permissions]\nrequest = [\"events-subscribe(build.*)\"]\n\
             [[events.filter]]\npattern = \"build.*\"\nfield = \"/status\"\nequals = \"failed\"\n",
        );
        let manifest = parse("plugin.toml", &good).unwrap();
        assert_eq!(manifest.event_filters.len(), 1);
        assert_eq!(manifest.event_filters[0].field, "/status");
        assert_eq!(
            manifest.event_filters[0].equals,
            serde_json::json!("failed")
        );
        let again = parse("written.toml", &manifest.to_toml_string().unwrap()).unwrap();
        assert_eq!(again, manifest);

        let unrequested =
            with("[[events.filter]]\npattern = \"build.*\"\nfield = \"/status\"\nequals = 1\n");
        let err = parse("plugin.toml", &unrequested).unwrap_err().to_string();
        assert!(
            err.contains("requests no `events-subscribe(build.*)`"),
            "{err}"
        );

        let not_a_pointer = with(
            "[permissions]\nrequest = [\"events-subscribe(build.*)\"]\n\
             [[events.filter]]\npattern = \"build.*\"\nfield = \"status\"\nequals = 1\n",
        );
        let err = parse("plugin.toml", &not_a_pointer)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a JSON pointer"), "{err}");
    }

    #[test]
    fn permission_reasons_explain_requested_permissions_only() {
        let with = |extra: &str| format!("{MINIMAL}{extra}");
        let good = with(
            "[permissions]\nrequest = [\"net(api.example.com:443)\", \"tty\"]\n\
             reasons = { \"net(api.example.com:443)\" = \"fetch the forecast\" }\n",
        );
        let manifest = parse("plugin.toml", &good).unwrap();
        let net: Permission = "net(api.example.com:443)".parse().unwrap();
        assert_eq!(manifest.reason_for(&net), Some("fetch the forecast"));
        assert_eq!(manifest.reason_for(&Permission::Tty), None);
        let again = parse("written.toml", &manifest.to_toml_string().unwrap()).unwrap();
        assert_eq!(again, manifest);

        let stray = with(
            "[permissions]\nrequest = [\"tty\"]\nreasons = { \"net(x.example:1)\" = \"no\" }\n",
        );
        let err = parse("plugin.toml", &stray).unwrap_err().to_string();
        assert!(err.contains("which `request` does not ask for"), "{err}");
        let empty = with("[permissions]\nrequest = [\"tty\"]\nreasons = { \"tty\" = \" \" }\n");
        let err = parse("plugin.toml", &empty).unwrap_err().to_string();
        assert!(err.contains("1 to 200 characters"), "{err}");
    }

    #[test]
    fn round_trip() {
        for input in [GOOD, MINIMAL] {
            let manifest = parse("plugin.toml", input).unwrap();
            let text = manifest.to_toml_string().unwrap();
            let again = parse("written.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(again, manifest, "{text}");
        }
    }

    #[test]
    fn written_form() {
        let manifest = parse("plugin.toml", GOOD).unwrap();
        let text = manifest.to_toml_string().unwrap();
        assert!(text.starts_with("[plugin]\nid = \"hello\"\n"), "{text}");
        assert!(
            text.contains("[permissions]\nrequest = [\"fs-read($PROJECT)\", \"net(api.example.com:443)\", \"env(HOME)\", \"tty\"]\n"),
            "{text}"
        );
        assert!(
            text.contains("[[commands.args]]\nname = \"name\"\nhelp = \"who to greet\"\n"),
            "{text}"
        );
        assert!(!text.contains("risk"), "{text}");
    }

    #[test]
    fn defaults() {
        let manifest = parse("plugin.toml", MINIMAL).unwrap();
        assert_eq!(manifest.plugin.category, Category::Other);
        assert_eq!(manifest.plugin.description, "");
        assert_eq!(manifest.limits, Limits::default());
        assert!(manifest.permissions.is_empty());
        assert_eq!(manifest.risk_level(), RiskLevel::Low);
        assert_eq!(manifest.warnings().len(), 5, "{:?}", manifest.warnings());
    }

    #[test]
    fn limit_helpers() {
        let limits = Limits::default();
        assert_eq!(limits.max_execution(), Duration::from_secs(5));
        assert_eq!(limits.max_memory_bytes(), 64 * 1024 * 1024);
        assert_eq!(limits.max_output_bytes(), 1024 * 1024);
    }

    #[test]
    fn category_names() {
        for category in Category::ALL {
            assert_eq!(category.as_str().parse::<Category>(), Ok(category));
        }
    }
}
