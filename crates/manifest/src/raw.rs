//! The shape of `plugin.toml` exactly as written, before validation.
//!
//! Every value keeps its span so that semantic errors found later (a bad
//! permission, an out-of-range limit) can point at the offending text. Values
//! are mostly plain strings and integers here, converted to typed values by
//! `manifest.rs`, because that gives better messages than serde's.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// Strings and string lists with their positions.
pub(crate) type Text = Spanned<String>;
pub(crate) type TextList = Spanned<Vec<Text>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawManifest {
    pub(crate) plugin: RawPlugin,
    #[serde(default)]
    pub(crate) dependencies: BTreeMap<Text, Text>,
    #[serde(default)]
    pub(crate) permissions: Option<RawPermissions>,
    #[serde(default)]
    pub(crate) limits: Option<RawLimits>,
    #[serde(default)]
    pub(crate) commands: Vec<Spanned<RawCommand>>,
    #[serde(default)]
    pub(crate) micro: Vec<Spanned<RawMicro>>,
    #[serde(default)]
    pub(crate) config: Option<RawConfig>,
    #[serde(default)]
    pub(crate) messages: Option<RawMessages>,
    #[serde(default)]
    pub(crate) events: Option<RawEvents>,
    #[serde(default)]
    pub(crate) routes: Vec<Spanned<crate::route::RouteSpec>>,
}

/// `[events]`: refinements of the plugin's subscriptions.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEvents {
    #[serde(default)]
    pub(crate) filter: Vec<Spanned<RawEventFilter>>,
}

/// One `[[events.filter]]`: deliver events on `pattern` only when the
/// payload holds `equals` at the JSON pointer `field`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEventFilter {
    pub(crate) pattern: String,
    pub(crate) field: String,
    pub(crate) equals: toml::Value,
}

/// `[messages]`: whether other plugins may send this one requests.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMessages {
    #[serde(default)]
    pub(crate) accept: bool,
}

/// `[config]`: the JSON Schema of the plugin's own configuration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub(crate) schema: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawMicro {
    pub(crate) id: Text,
    pub(crate) kind: Text,
    #[serde(default)]
    pub(crate) description: Option<Text>,
    #[serde(default)]
    pub(crate) isolation: Option<Text>,
    #[serde(default)]
    pub(crate) input_schema: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(crate) output_schema: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(crate) pure: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawPlugin {
    pub(crate) id: Text,
    pub(crate) name: Text,
    pub(crate) version: Text,
    #[serde(default)]
    pub(crate) description: Option<Text>,
    #[serde(default)]
    pub(crate) authors: Option<TextList>,
    #[serde(default)]
    pub(crate) license: Option<Text>,
    #[serde(default)]
    pub(crate) category: Option<Text>,
    #[serde(default)]
    pub(crate) keywords: Option<TextList>,
    pub(crate) host_api: Text,
    pub(crate) component: Text,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPermissions {
    #[serde(default)]
    pub(crate) request: Option<TextList>,
    /// Why each requested permission is needed, keyed by the permission.
    #[serde(default)]
    pub(crate) reasons: Option<Spanned<BTreeMap<String, Text>>>,
}

/// Limits are read as `i64`, TOML's integer type, so that a negative value
/// gets the same "out of range" message as a too-large one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawLimits {
    #[serde(default)]
    pub(crate) max_execution_ms: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) max_memory_mib: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) max_output_kib: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) max_data_kib: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) max_open_handles: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCommand {
    pub(crate) name: Text,
    pub(crate) about: Text,
    #[serde(default)]
    pub(crate) args: Vec<Spanned<RawArg>>,
    #[serde(default)]
    pub(crate) pure: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawArg {
    pub(crate) name: Text,
    #[serde(default)]
    pub(crate) help: Option<Text>,
    #[serde(default)]
    pub(crate) required: Option<Spanned<bool>>,
    #[serde(default)]
    pub(crate) multiple: Option<Spanned<bool>>,
    #[serde(default)]
    pub(crate) flag: Option<Spanned<bool>>,
}
