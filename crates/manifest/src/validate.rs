//! Parsing `plugin.toml` text into a [`Manifest`]: syntax via the TOML
//! parser, then every semantic rule, converting the raw shape into the
//! public types.
//!
//! Validation stops at the first problem and reports it at the exact
//! position of the offending value, with what is allowed instead.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use semver::{Version, VersionReq};
use toml::Spanned;

use crate::display;
use crate::error::{Locator, ManifestError};
use crate::ids::{CommandName, MicroId, PluginId};
use crate::manifest::{ArgSpec, Category, CommandSpec, Limits, Manifest, PluginMeta};
use crate::micro::{Isolation, MicroKind, MicroSpec};
use crate::permission::{Permission, PermissionError};
use crate::raw::{RawArg, RawCommand, RawLimits, RawManifest, RawMicro, RawPlugin, Text, TextList};

/// Parses and validates `plugin.toml` text. `file_label` is only used to
/// prefix error messages (`{file_label}:{line}:{column}: ...`).
pub fn parse(file_label: &str, text: &str) -> Result<Manifest, ManifestError> {
    let loc = Locator::new(file_label, text);
    let raw: RawManifest = toml::from_str(text).map_err(|error| loc.toml(&error))?;
    Validator { loc }.manifest(raw)
}

/// Longest `name`.
const MAX_NAME: usize = 64;
/// Longest `description`.
const MAX_DESCRIPTION: usize = 512;
/// Longest `about` and `help`.
const MAX_HELP: usize = 200;
/// Most `authors`, and longest entry.
const MAX_AUTHORS: usize = 10;
const MAX_AUTHOR: usize = 128;
/// Longest `license` expression.
const MAX_LICENSE: usize = 128;
/// Most `keywords`, and longest keyword.
const MAX_KEYWORDS: usize = 10;
const MAX_KEYWORD: usize = 32;
/// Longest `component` path.
const MAX_COMPONENT: usize = 256;
/// Most commands, arguments per command, and permissions.
const MAX_COMMANDS: usize = 64;
const MAX_MICRO: usize = 64;
const MAX_ARGS: usize = 16;
const MAX_PERMISSIONS: usize = 64;

/// What a free-text field accepts.
#[derive(Clone, Copy)]
struct TextRules {
    max: usize,
    allow_empty: bool,
    /// Whether line breaks and tabs are allowed (descriptions only).
    multi_line: bool,
}

impl TextRules {
    /// One non-empty line of at most `max` characters.
    const fn line(max: usize) -> Self {
        Self {
            max,
            allow_empty: false,
            multi_line: false,
        }
    }

    const fn or_empty(self) -> Self {
        Self {
            allow_empty: true,
            ..self
        }
    }

    const fn with_line_breaks(self) -> Self {
        Self {
            multi_line: true,
            ..self
        }
    }
}

/// Converts the raw shape into the public types, one table at a time.
struct Validator<'a> {
    loc: Locator<'a>,
}

impl Validator<'_> {
    fn manifest(&self, raw: RawManifest) -> Result<Manifest, ManifestError> {
        let plugin = self.plugin(raw.plugin)?;
        let dependencies = self.dependencies(&plugin.id, raw.dependencies)?;
        let (request, reasons) = match raw.permissions {
            Some(section) => (section.request, section.reasons),
            None => (None, None),
        };
        let permissions = match request {
            Some(request) => self.permissions(request)?,
            None => Vec::new(),
        };
        let permission_reasons = match reasons {
            Some(reasons) => self.reasons(reasons, &permissions)?,
            None => BTreeMap::new(),
        };
        let limits = match raw.limits {
            Some(limits) => self.limits(limits)?,
            None => Limits::default(),
        };
        let commands = self.commands(raw.commands)?;
        let micro = self.micro(raw.micro)?;
        let routes = crate::route::check_manifest_routes(&self.loc, raw.routes, &micro)?;
        let event_filters = match raw.events {
            Some(events) => self.event_filters(events.filter, &permissions)?,
            None => Vec::new(),
        };
        let config_schema = match raw.config {
            Some(config) => self.schema("config.schema", config.schema)?,
            None => None,
        };
        Ok(Manifest {
            plugin,
            dependencies,
            permissions,
            permission_reasons,
            limits,
            commands,
            micro,
            config_schema,
            accepts_messages: raw.messages.is_some_and(|m| m.accept),
            event_filters,
            routes,
        })
    }

    fn plugin(&self, raw: RawPlugin) -> Result<PluginMeta, ManifestError> {
        let id = PluginId::new(raw.id.get_ref().as_str())
            .map_err(|e| self.loc.span(raw.id.span(), e.to_string()))?;
        let name = self.text("`name`", &raw.name, TextRules::line(MAX_NAME))?;
        let version = Version::parse(raw.version.get_ref()).map_err(|e| {
            self.loc.span(
                raw.version.span(),
                format!(
                    "`version` = {:?} is not a semantic version ({e}); expected MAJOR.MINOR.PATCH like `0.1.0`",
                    raw.version.get_ref()
                ),
            )
        })?;
        let description = match &raw.description {
            Some(description) => self.text(
                "`description`",
                description,
                TextRules::line(MAX_DESCRIPTION)
                    .or_empty()
                    .with_line_breaks(),
            )?,
            None => String::new(),
        };
        let authors = match &raw.authors {
            Some(authors) => {
                self.list_len("`authors`", authors, MAX_AUTHORS)?;
                authors
                    .get_ref()
                    .iter()
                    .map(|author| {
                        self.text("an `authors` entry", author, TextRules::line(MAX_AUTHOR))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
            None => Vec::new(),
        };
        let license = raw
            .license
            .as_ref()
            .map(|license| self.license(license))
            .transpose()?;
        let category = match &raw.category {
            Some(category) => category
                .get_ref()
                .parse::<Category>()
                .map_err(|e| self.loc.span(category.span(), e.to_string()))?,
            None => Category::default(),
        };
        let keywords = match &raw.keywords {
            Some(keywords) => self.keywords(keywords)?,
            None => Vec::new(),
        };
        let host_api = VersionReq::parse(raw.host_api.get_ref()).map_err(|e| {
            self.loc.span(
                raw.host_api.span(),
                format!(
                    "`host-api` = {:?} is not a version requirement ({e}); expected something like `^0.2`",
                    raw.host_api.get_ref()
                ),
            )
        })?;
        let component = self.component(&raw.component)?;
        Ok(PluginMeta {
            id,
            name,
            version,
            description,
            authors,
            license,
            category,
            keywords,
            host_api,
            component,
        })
    }

    /// Checks a free-text field. Control characters are refused because
    /// these strings end up on the user's terminal, where escape sequences
    /// could disguise what a plugin is or what it asks for.
    fn text(&self, label: &str, value: &Text, rules: TextRules) -> Result<String, ManifestError> {
        let text = value.get_ref();
        let fail = |message: String| Err(self.loc.span(value.span(), message));
        let len = text.chars().count();
        if len == 0 && !rules.allow_empty {
            return fail(format!(
                "{label} is empty; expected 1..={} characters",
                rules.max
            ));
        }
        if len > rules.max {
            return fail(format!(
                "{label} is {len} characters long; allowed at most {}",
                rules.max
            ));
        }
        self.readable(label, value, rules.multi_line)?;
        Ok(text.clone())
    }

    /// Checks that a display field shows what it holds: no control
    /// characters (but line breaks and tabs where `multi_line`), and no
    /// bidirectional or invisible characters (see `display`), the latter
    /// reported at the character itself.
    fn readable(&self, label: &str, value: &Text, multi_line: bool) -> Result<(), ManifestError> {
        let text = value.get_ref();
        let allowed_control = |c: char| multi_line && (c == '\n' || c == '\t');
        if let Some(bad) = text
            .chars()
            .find(|c| c.is_control() && !allowed_control(*c))
        {
            let allowed = if multi_line {
                "printable text, line breaks and tabs"
            } else {
                "printable text on one line"
            };
            return Err(self.loc.span(
                value.span(),
                format!(
                    "{label} contains the control character U+{:04X}; only {allowed} is allowed",
                    u32::from(bad)
                ),
            ));
        }
        if let Some(hidden) = display::hidden(text) {
            let start = value.span().start;
            let at = display::char_offset(self.loc.source(), start, hidden.index).unwrap_or(start);
            return Err(self.loc.at(at, format!("{label} {}", hidden.message)));
        }
        Ok(())
    }

    fn list_len(&self, label: &str, list: &TextList, max: usize) -> Result<(), ManifestError> {
        let len = list.get_ref().len();
        if len > max {
            return Err(self.loc.span(
                list.span(),
                format!("{label} has {len} entries; allowed at most {max}"),
            ));
        }
        Ok(())
    }

    /// Accepts SPDX-style expressions (`MIT`, `MIT OR Apache-2.0`,
    /// `LicenseRef-x`) by character set; the exact grammar is not enforced.
    fn license(&self, value: &Text) -> Result<String, ManifestError> {
        const EXPECTED: &str = "an SPDX license expression like `MIT` or `MIT OR Apache-2.0`";
        let text = value.get_ref();
        let fail = |message: String| Err(self.loc.span(value.span(), message));
        if text.trim().is_empty() {
            return fail(format!(
                "`license` is empty; expected {EXPECTED}, or leave the key out"
            ));
        }
        if text.len() > MAX_LICENSE {
            return fail(format!(
                "`license` is {} characters long; allowed at most {MAX_LICENSE}",
                text.len()
            ));
        }
        if let Some(bad) = text.chars().find(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '.' | '+' | '(' | ')' | ':'))
        }) {
            return fail(format!("`license` contains `{bad}`; expected {EXPECTED}"));
        }
        Ok(text.clone())
    }

    fn keywords(&self, keywords: &TextList) -> Result<Vec<String>, ManifestError> {
        self.list_len("`keywords`", keywords, MAX_KEYWORDS)?;
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for keyword in keywords.get_ref() {
            self.readable("a keyword", keyword, false)?;
            let text = keyword.get_ref();
            let valid = (1..=MAX_KEYWORD).contains(&text.len())
                && text
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid {
                return Err(self.loc.span(
                    keyword.span(),
                    format!("keyword {text:?} is not valid; expected 1..={MAX_KEYWORD} characters of `a-z`, `0-9` and `-`"),
                ));
            }
            if !seen.insert(text.as_str()) {
                return Err(self.loc.span(
                    keyword.span(),
                    format!("duplicate keyword `{text}`; each keyword may appear once"),
                ));
            }
            out.push(text.clone());
        }
        Ok(out)
    }

    /// The component path must stay inside the plugin directory and be
    /// portable, since it is joined to the install directory on any OS.
    fn component(&self, value: &Text) -> Result<String, ManifestError> {
        let text = value.get_ref();
        if text.len() > MAX_COMPONENT {
            return Err(self.loc.span(
                value.span(),
                format!(
                    "`component` is {} characters long; allowed at most {MAX_COMPONENT}",
                    text.len()
                ),
            ));
        }
        let problem = if text.is_empty() {
            Some("it is empty")
        } else if text.contains('\\') {
            Some("backslashes are not allowed; separate directories with `/`")
        } else if text.starts_with('/') || text.get(1..2) == Some(":") {
            Some("absolute paths are not allowed")
        } else if text.split('/').any(|segment| segment == "..") {
            Some("`..` would leave the plugin directory")
        } else if text
            .split('/')
            .any(|segment| segment.is_empty() || segment == ".")
        {
            Some("empty and `.` path segments are not allowed")
        } else if text.chars().any(char::is_control) {
            Some("control characters are not allowed")
        } else if !text.ends_with(".wasm") {
            Some("it must name a `.wasm` file")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(self.loc.span(
                value.span(),
                format!(
                    "`component` = {text:?} is not valid: {problem}; expected a relative path to a `.wasm` file inside the plugin directory, like `plugin.wasm`"
                ),
            )),
            None => Ok(text.clone()),
        }
    }

    fn dependencies(
        &self,
        own_id: &PluginId,
        raw: BTreeMap<Text, Text>,
    ) -> Result<BTreeMap<PluginId, VersionReq>, ManifestError> {
        // Report problems in file order rather than in key order.
        let mut entries: Vec<(Text, Text)> = raw.into_iter().collect();
        entries.sort_by_key(|(key, _)| key.span().start);
        let mut dependencies = BTreeMap::new();
        for (key, value) in entries {
            let id = PluginId::new(key.get_ref().as_str())
                .map_err(|e| self.loc.span(key.span(), format!("dependency: {e}")))?;
            if id == *own_id {
                return Err(self.loc.span(
                    key.span(),
                    format!("plugin `{id}` cannot depend on itself; remove this dependency"),
                ));
            }
            let req = VersionReq::parse(value.get_ref()).map_err(|e| {
                self.loc.span(
                    value.span(),
                    format!(
                        "dependency `{id}` = {:?} is not a version requirement ({e}); expected something like `^1.2`",
                        value.get_ref()
                    ),
                )
            })?;
            dependencies.insert(id, req);
        }
        Ok(dependencies)
    }

    fn permissions(&self, request: TextList) -> Result<Vec<Permission>, ManifestError> {
        let len = request.get_ref().len();
        if len > MAX_PERMISSIONS {
            return Err(self.loc.span(
                request.span(),
                format!("`request` has {len} permissions; allowed at most {MAX_PERMISSIONS}"),
            ));
        }
        let mut first_seen: BTreeMap<Permission, usize> = BTreeMap::new();
        let mut permissions = Vec::new();
        for item in request.into_inner() {
            let start = item.span().start;
            let permission: Permission = item
                .get_ref()
                .parse()
                .map_err(|e: PermissionError| self.loc.at(start, e.to_string()))?;
            if let Some(first) = first_seen.get(&permission) {
                return Err(self.loc.at(
                    start,
                    format!(
                        "duplicate permission `{permission}`; it is already requested at line {}",
                        self.loc.line(*first)
                    ),
                ));
            }
            first_seen.insert(permission.clone(), start);
            permissions.push(permission);
        }
        Ok(permissions)
    }

    /// `[permissions] reasons`: each key a requested permission, each
    /// reason one line of at most 200 characters.
    fn reasons(
        &self,
        reasons: Spanned<BTreeMap<String, Text>>,
        requested: &[Permission],
    ) -> Result<BTreeMap<Permission, String>, ManifestError> {
        let span = reasons.span();
        let mut out = BTreeMap::new();
        for (key, why) in reasons.into_inner() {
            let permission: Permission = key.parse().map_err(|e: PermissionError| {
                self.loc
                    .span(span.clone(), format!("`reasons` key `{key}`: {e}"))
            })?;
            if !requested.contains(&permission) {
                return Err(self.loc.span(
                    span.clone(),
                    format!(
                        "`reasons` explains `{key}`, which `request` does not ask for; request it \
                         or drop the reason"
                    ),
                ));
            }
            let text = why.get_ref();
            if text.trim().is_empty() || text.chars().count() > 200 || text.contains('\n') {
                return Err(self.loc.span(
                    why.span(),
                    format!("the reason for `{key}` must be one line of 1 to 200 characters"),
                ));
            }
            // Shown in the permission prompt, beside lord's own words.
            self.readable(&format!("the reason for `{key}`"), &why, false)?;
            out.insert(permission, why.into_inner());
        }
        Ok(out)
    }

    fn limits(&self, raw: RawLimits) -> Result<Limits, ManifestError> {
        let defaults = Limits::default();
        Ok(Limits {
            max_execution_ms: self.limit(
                "max-execution-ms",
                raw.max_execution_ms,
                Limits::EXECUTION_MS_RANGE,
                defaults.max_execution_ms,
            )?,
            max_memory_mib: self.limit(
                "max-memory-mib",
                raw.max_memory_mib,
                Limits::MEMORY_MIB_RANGE,
                defaults.max_memory_mib,
            )?,
            max_output_kib: self.limit(
                "max-output-kib",
                raw.max_output_kib,
                Limits::OUTPUT_KIB_RANGE,
                defaults.max_output_kib,
            )?,
            max_data_kib: self.limit(
                "max-data-kib",
                raw.max_data_kib,
                Limits::DATA_KIB_RANGE,
                defaults.max_data_kib,
            )?,
            max_open_handles: self.limit(
                "max-open-handles",
                raw.max_open_handles,
                Limits::OPEN_HANDLES_RANGE,
                defaults.max_open_handles,
            )?,
        })
    }

    fn limit(
        &self,
        key: &str,
        value: Option<Spanned<i64>>,
        range: RangeInclusive<u64>,
        default: u64,
    ) -> Result<u64, ManifestError> {
        let Some(value) = value else {
            return Ok(default);
        };
        let number = *value.get_ref();
        match u64::try_from(number) {
            Ok(number) if range.contains(&number) => Ok(number),
            Ok(_) | Err(_) => Err(self.loc.span(
                value.span(),
                format!(
                    "{key} = {number} is out of range; allowed {}..={}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    fn commands(&self, raw: Vec<Spanned<RawCommand>>) -> Result<Vec<CommandSpec>, ManifestError> {
        let mut first_seen: BTreeMap<CommandName, usize> = BTreeMap::new();
        let mut commands = Vec::new();
        for (index, command) in raw.into_iter().enumerate() {
            let command = command.into_inner();
            let name_start = command.name.span().start;
            if index >= MAX_COMMANDS {
                return Err(self.loc.at(
                    name_start,
                    format!("too many commands; allowed at most {MAX_COMMANDS}"),
                ));
            }
            let name = CommandName::new(command.name.get_ref().as_str())
                .map_err(|e| self.loc.at(name_start, e.to_string()))?;
            if let Some(first) = first_seen.get(&name) {
                return Err(self.loc.at(
                    name_start,
                    format!(
                        "duplicate command `{name}`; it is already declared at line {}",
                        self.loc.line(*first)
                    ),
                ));
            }
            first_seen.insert(name.clone(), name_start);
            let about = self.text("`about`", &command.about, TextRules::line(MAX_HELP))?;
            let args = self.args(&name, command.args)?;
            commands.push(CommandSpec {
                name,
                about,
                args,
                pure: command.pure,
            });
        }
        Ok(commands)
    }

    fn event_filters(
        &self,
        raw: Vec<Spanned<crate::raw::RawEventFilter>>,
        permissions: &[Permission],
    ) -> Result<Vec<crate::manifest::EventFilter>, ManifestError> {
        let mut out: Vec<crate::manifest::EventFilter> = Vec::new();
        for entry in raw {
            let span = entry.span();
            let entry = entry.into_inner();
            let pattern = permissions.iter().find_map(|p| match p {
                Permission::EventsSubscribe(topic) if topic.as_str() == entry.pattern => {
                    Some(topic.clone())
                }
                Permission::FsRead(_)
                | Permission::FsWrite(_)
                | Permission::Net(_)
                | Permission::Env(_)
                | Permission::Secret(_)
                | Permission::Exec(_)
                | Permission::Db(_)
                | Permission::Ai(_)
                | Permission::SysMetrics
                | Permission::SysMetricsCommandLines
                | Permission::StateShared(_)
                | Permission::EventsPublish(_)
                | Permission::EventsSubscribe(_)
                | Permission::Message(_)
                | Permission::Tty => None,
            });
            let Some(pattern) = pattern else {
                return Err(self.loc.span(
                    span,
                    format!(
                        "`[[events.filter]]` names pattern `{}`, but the plugin requests no \
                         `events-subscribe({})`; a filter refines a subscription",
                        entry.pattern, entry.pattern
                    ),
                ));
            };
            if !(entry.field.is_empty() || entry.field.starts_with('/')) {
                return Err(self.loc.span(
                    span,
                    format!(
                        "`field` = {:?} is not a JSON pointer; write it like `/status`",
                        entry.field
                    ),
                ));
            }
            if out.iter().any(|f| f.pattern == pattern) {
                return Err(self.loc.span(
                    span,
                    format!("pattern `{pattern}` has more than one filter; keep one"),
                ));
            }
            let equals = serde_json::to_value(entry.equals).map_err(|e| {
                self.loc.span(
                    span.clone(),
                    format!("`equals` cannot be read as JSON: {e}"),
                )
            })?;
            out.push(crate::manifest::EventFilter {
                pattern,
                field: entry.field,
                equals,
            });
        }
        Ok(out)
    }

    fn micro(&self, raw: Vec<Spanned<RawMicro>>) -> Result<Vec<MicroSpec>, ManifestError> {
        let mut first_seen: BTreeMap<MicroId, usize> = BTreeMap::new();
        let mut out = Vec::new();
        for (index, entry) in raw.into_iter().enumerate() {
            let entry = entry.into_inner();
            let id_start = entry.id.span().start;
            if index >= MAX_MICRO {
                return Err(self.loc.at(
                    id_start,
                    format!("too many micro-plugins; allowed at most {MAX_MICRO}"),
                ));
            }
            let id = MicroId::new(entry.id.get_ref().as_str())
                .map_err(|e| self.loc.at(id_start, e.to_string()))?;
            if let Some(first) = first_seen.get(&id) {
                return Err(self.loc.at(
                    id_start,
                    format!(
                        "duplicate micro-plugin `{id}`; it is already declared at line {}",
                        self.loc.line(*first)
                    ),
                ));
            }
            first_seen.insert(id.clone(), id_start);
            let kind = entry
                .kind
                .get_ref()
                .parse::<MicroKind>()
                .map_err(|e| self.loc.span(entry.kind.span(), e))?;
            let isolation = match &entry.isolation {
                Some(text) => text
                    .get_ref()
                    .parse::<Isolation>()
                    .map_err(|e| self.loc.span(text.span(), e))?,
                None => Isolation::Strict,
            };
            let description = match &entry.description {
                Some(text) => self.text("`description`", text, TextRules::line(MAX_HELP))?,
                None => String::new(),
            };
            out.push(MicroSpec {
                id,
                kind,
                description,
                isolation,
                input_schema: self.schema("input-schema", entry.input_schema)?,
                output_schema: self.schema("output-schema", entry.output_schema)?,
                pure: entry.pure,
            });
        }
        Ok(out)
    }

    /// A JSON Schema written as a TOML table. Only its shape is checked here
    /// (an object); the schema itself is compiled by whoever validates with it.
    fn schema(
        &self,
        label: &str,
        raw: Option<Spanned<toml::Value>>,
    ) -> Result<Option<serde_json::Value>, ManifestError> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let span = raw.span();
        let value = serde_json::to_value(raw.into_inner()).map_err(|e| {
            self.loc.span(
                span.clone(),
                format!("`{label}` cannot be read as JSON: {e}"),
            )
        })?;
        if !value.is_object() {
            return Err(self.loc.span(
                span,
                format!(
                    "`{label}` must be a table (a JSON Schema object), like {{ type = \"string\" }}"
                ),
            ));
        }
        Ok(Some(value))
    }

    fn args(
        &self,
        command: &CommandName,
        raw: Vec<Spanned<RawArg>>,
    ) -> Result<Vec<ArgSpec>, ManifestError> {
        let mut args: Vec<ArgSpec> = Vec::new();
        let count = raw.len();
        for (index, arg) in raw.into_iter().enumerate() {
            let arg = arg.into_inner();
            let name_start = arg.name.span().start;
            if index >= MAX_ARGS {
                return Err(self.loc.at(
                    name_start,
                    format!(
                        "command `{command}` has too many arguments; allowed at most {MAX_ARGS}"
                    ),
                ));
            }
            let name = CommandName::new_as("argument name", arg.name.get_ref())
                .map_err(|e| self.loc.at(name_start, e.to_string()))?;
            if args.iter().any(|earlier| earlier.name == name) {
                return Err(self.loc.at(
                    name_start,
                    format!("duplicate argument `{name}` in command `{command}`; argument names must be unique"),
                ));
            }
            let help = match &arg.help {
                Some(help) => self.text("`help`", help, TextRules::line(MAX_HELP).or_empty())?,
                None => String::new(),
            };
            let required = arg.required.as_ref().is_some_and(|flag| *flag.get_ref());
            let multiple = arg.multiple.as_ref().is_some_and(|flag| *flag.get_ref());
            if let (true, Some(optional)) =
                (required, args.iter().find(|earlier| !earlier.required))
            {
                let at = arg
                    .required
                    .as_ref()
                    .map_or(name_start, |flag| flag.span().start);
                return Err(self.loc.at(
                    at,
                    format!(
                        "required argument `{name}` follows optional argument `{}`; required arguments must come first",
                        optional.name
                    ),
                ));
            }
            let flag = arg.flag.as_ref().is_some_and(|flag| *flag.get_ref());
            if flag && (required || multiple) {
                let at = arg.flag.as_ref().map_or(name_start, |f| f.span().start);
                return Err(self.loc.at(
                    at,
                    format!("argument `{name}` is a `flag`, so it can be neither `required` nor `multiple`; a flag is given or not"),
                ));
            }
            if multiple && index + 1 != count {
                let at = arg
                    .multiple
                    .as_ref()
                    .map_or(name_start, |flag| flag.span().start);
                return Err(self.loc.at(
                    at,
                    format!("argument `{name}` is `multiple` but is not the last one; only the last argument may be `multiple`"),
                ));
            }
            args.push(ArgSpec {
                name,
                help,
                required,
                multiple,
                flag,
            });
        }
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::MINIMAL;

    /// Parses `input` and compares the outcome with `expected`: `Ok(())`
    /// for a manifest that must be accepted, or the exact rendered error.
    fn check(input: &str, expected: Result<(), &str>) {
        let got = parse("plugin.toml", input)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_owned), "input:\n{input}");
    }

    /// Each case is appended to `MINIMAL` (6 lines), so line 7 is the first
    /// line of the case.
    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            // Syntax and type errors come from the TOML parser's spans.
            ("[limits\n", "plugin.toml:7:8: unclosed table, expected `]`"),
            (
                "[limits]\nmax-memory-mib = \"big\"\n",
                "plugin.toml:8:18: invalid type: string \"big\", expected i64",
            ),
            // Unknown keys name the key and what is allowed.
            (
                "[limits]\nmax-memroy-mib = 1\n",
                "plugin.toml:8:1: unknown key `max-memroy-mib`; allowed keys are `max-execution-ms`, `max-memory-mib`, `max-output-kib`, `max-data-kib`, `max-open-handles`",
            ),
            (
                "[extra]\n",
                "plugin.toml:7:2: unknown key `extra`; allowed keys are `plugin`, `dependencies`, `permissions`, `limits`, `commands`, `micro`, `config`, `messages`, `events`, `routes`",
            ),
            (
                "[permissions]\nrisk = \"low\"\n",
                "plugin.toml:8:1: `risk` cannot be declared: the risk level is derived from the requested permissions; remove this key",
            ),
            // Micro-plugin declarations.
            (
                "[[micro]]\nid = \"trim\"\nkind = \"mangler\"\n",
                "plugin.toml:9:8: unknown micro-plugin kind `mangler`; expected one of: command-enhancer, validator, transformer, formatter, hook, utility",
            ),
            (
                "[[micro]]\nid = \"trim\"\nkind = \"transformer\"\nisolation = \"none\"\n",
                "plugin.toml:10:13: isolation `none` is only for native handlers compiled into the host; a plugin's micro-plugin is `limited` or `strict`",
            ),
            (
                "[[micro]]\nid = \"trim\"\nkind = \"transformer\"\ninput-schema = \"string\"\n",
                "plugin.toml:10:16: `input-schema` must be a table (a JSON Schema object), like { type = \"string\" }",
            ),
            (
                "[[micro]]\nid = \"trim\"\nkind = \"transformer\"\n[[micro]]\nid = \"trim\"\nkind = \"utility\"\n",
                "plugin.toml:11:6: duplicate micro-plugin `trim`; it is already declared at line 8",
            ),
            // Semantic errors point at the value.
            (
                "[permissions]\nrequest = [\"tty\", \"fs-raed($PROJECT)\"]\n",
                "plugin.toml:8:19: unknown permission family `fs-raed`; expected one of: fs-read, fs-write, net, env, secret, exec, db, ai, sys-metrics, state-shared, events-publish, events-subscribe, message, tty",
            ),
            (
                "[permissions]\nrequest = [\n  \"tty\",\n  \"tty\",\n]\n",
                "plugin.toml:10:3: duplicate permission `tty`; it is already requested at line 9",
            ),
            (
                "[limits]\nmax-memory-mib = 9000\n",
                "plugin.toml:8:18: max-memory-mib = 9000 is out of range; allowed 1..=4096",
            ),
            (
                "[limits]\nmax-execution-ms = -1\n",
                "plugin.toml:8:20: max-execution-ms = -1 is out of range; allowed 1..=600000",
            ),
            (
                "[limits]\nmax-output-kib = 0\n",
                "plugin.toml:8:18: max-output-kib = 0 is out of range; allowed 1..=65536",
            ),
            (
                "[dependencies]\nhello = \"^1\"\n",
                "plugin.toml:8:1: plugin `hello` cannot depend on itself; remove this dependency",
            ),
            (
                "[dependencies]\nOther = \"^1\"\n",
                "plugin.toml:8:1: dependency: plugin id `Other` is not valid: character `O` is not allowed; expected lowercase letters, digits and single `-` between them, starting with a letter (like `my-plugin`)",
            ),
            (
                "[dependencies]\nother = \"one\"\n",
                "plugin.toml:8:9: dependency `other` = \"one\" is not a version requirement (unexpected character 'o' while parsing major version number); expected something like `^1.2`",
            ),
            (
                "[[commands]]\nname = \"go\"\nabout = \"Go\"\n[[commands]]\nname = \"go\"\nabout = \"Again\"\n",
                "plugin.toml:11:8: duplicate command `go`; it is already declared at line 8",
            ),
            (
                "[[commands]]\nname = \"go\"\nabout = \"Go\"\n\n[[commands]]\nname = \"stop\"\n",
                "plugin.toml:11:1: missing required key `about`",
            ),
            (
                "[permissions]\nrequest = \"tty\"\n",
                "plugin.toml:8:11: invalid type: string \"tty\", expected a sequence",
            ),
            (
                "[[commands]]\nname = \"Go\"\nabout = \"Go\"\n",
                "plugin.toml:8:8: command name `Go` is not valid: character `G` is not allowed; expected lowercase letters, digits and single `-` between them, starting with a letter (like `my-plugin`)",
            ),
            (
                "[[commands]]\nname = \"go\"\nabout = \"\"\n",
                "plugin.toml:9:9: `about` is empty; expected 1..=200 characters",
            ),
            (
                "[[commands]]\nname = \"go\"\nabout = \"Go\"\n[[commands.args]]\nname = \"a\"\n[[commands.args]]\nname = \"a\"\n",
                "plugin.toml:13:8: duplicate argument `a` in command `go`; argument names must be unique",
            ),
            (
                "[[commands]]\nname = \"go\"\nabout = \"Go\"\n[[commands.args]]\nname = \"a\"\n[[commands.args]]\nname = \"b\"\nrequired = true\n",
                "plugin.toml:14:12: required argument `b` follows optional argument `a`; required arguments must come first",
            ),
            (
                "[[commands]]\nname = \"go\"\nabout = \"Go\"\n[[commands.args]]\nname = \"a\"\nmultiple = true\n[[commands.args]]\nname = \"b\"\n",
                "plugin.toml:12:12: argument `a` is `multiple` but is not the last one; only the last argument may be `multiple`",
            ),
            (
                "[[commands]]\nname = \"go\"\nabout = \"Go\"\n[[commands.args]]\nname = \"json\"\nflag = true\nmultiple = true\n",
                "plugin.toml:12:8: argument `json` is a `flag`, so it can be neither `required` nor `multiple`; a flag is given or not",
            ),
            (
                "[[commands]]\nname = \"go\"\nabout = \"Go\"\n[[commands.args]]\nname = \"Big_Arg\"\n",
                "plugin.toml:11:8: argument name `Big_Arg` is not valid: character `B` is not allowed; expected lowercase letters, digits and single `-` between them, starting with a letter (like `my-plugin`)",
            ),
        ];
        for (extra, expected) in cases {
            check(&format!("{MINIMAL}{extra}"), Err(expected));
        }
    }

    /// Errors in the `[plugin]` table itself, each with its own full input.
    #[test]
    fn plugin_table_errors() {
        let replace = |from: &str, to: &str| MINIMAL.replace(from, to);
        let cases: Vec<(String, &str)> = vec![
            (
                replace("id = \"hello\"", "id = \"Hello\""),
                "plugin.toml:2:6: plugin id `Hello` is not valid: character `H` is not allowed; expected lowercase letters, digits and single `-` between them, starting with a letter (like `my-plugin`)",
            ),
            (
                replace(
                    "name = \"Hello\"",
                    &format!("name = \"{}\"", "n".repeat(65)),
                ),
                "plugin.toml:3:8: `name` is 65 characters long; allowed at most 64",
            ),
            (
                replace("name = \"Hello\"", "name = \"Hi\\u001b[31m\""),
                "plugin.toml:3:8: `name` contains the control character U+001B; only printable text on one line is allowed",
            ),
            (
                replace("version = \"0.1.0\"", "version = \"1.0\""),
                "plugin.toml:4:11: `version` = \"1.0\" is not a semantic version (unexpected end of input while parsing minor version number); expected MAJOR.MINOR.PATCH like `0.1.0`",
            ),
            (
                replace("host-api = \"^0.2\"", "host-api = \"zero\""),
                "plugin.toml:5:12: `host-api` = \"zero\" is not a version requirement (unexpected character 'z' while parsing major version number); expected something like `^0.2`",
            ),
            (
                replace(
                    "component = \"plugin.wasm\"",
                    "component = \"../plugin.wasm\"",
                ),
                "plugin.toml:6:13: `component` = \"../plugin.wasm\" is not valid: `..` would leave the plugin directory; expected a relative path to a `.wasm` file inside the plugin directory, like `plugin.wasm`",
            ),
            (
                replace(
                    "component = \"plugin.wasm\"",
                    "component = \"/abs/plugin.wasm\"",
                ),
                "plugin.toml:6:13: `component` = \"/abs/plugin.wasm\" is not valid: absolute paths are not allowed; expected a relative path to a `.wasm` file inside the plugin directory, like `plugin.wasm`",
            ),
            (
                replace("component = \"plugin.wasm\"", "component = \"plugin.so\""),
                "plugin.toml:6:13: `component` = \"plugin.so\" is not valid: it must name a `.wasm` file; expected a relative path to a `.wasm` file inside the plugin directory, like `plugin.wasm`",
            ),
            (
                replace(
                    "component = \"plugin.wasm\"",
                    "component = \"plugin.wasm\"\ncategory = \"games\"",
                ),
                "plugin.toml:7:12: unknown category `games`; expected one of: utility, development, data, network, system, security, productivity, integration, other",
            ),
            (
                replace(
                    "component = \"plugin.wasm\"",
                    "component = \"plugin.wasm\"\nkeywords = [\"ok\", \"Not OK\"]",
                ),
                "plugin.toml:7:19: keyword \"Not OK\" is not valid; expected 1..=32 characters of `a-z`, `0-9` and `-`",
            ),
            (
                replace(
                    "component = \"plugin.wasm\"",
                    "component = \"plugin.wasm\"\nkeywords = [\"a\", \"a\"]",
                ),
                "plugin.toml:7:18: duplicate keyword `a`; each keyword may appear once",
            ),
            (
                replace(
                    "component = \"plugin.wasm\"",
                    "component = \"plugin.wasm\"\nkeywords = [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\"]",
                ),
                "plugin.toml:7:12: `keywords` has 11 entries; allowed at most 10",
            ),
            (
                replace(
                    "component = \"plugin.wasm\"",
                    "component = \"plugin.wasm\"\nlicense = \"MIT/X\"",
                ),
                "plugin.toml:7:11: `license` contains `/`; expected an SPDX license expression like `MIT` or `MIT OR Apache-2.0`",
            ),
            (
                replace(
                    "component = \"plugin.wasm\"",
                    "component = \"plugin.wasm\"\nauthors = [\"\"]",
                ),
                "plugin.toml:7:12: an `authors` entry is empty; expected 1..=128 characters",
            ),
            (
                replace(
                    "component = \"plugin.wasm\"",
                    "component = \"plugin.wasm\"\nrisk-level = \"low\"",
                ),
                "plugin.toml:7:1: `risk-level` cannot be declared: the risk level is derived from the requested permissions; remove this key",
            ),
            (
                replace("host-api = \"^0.2\"\n", ""),
                "plugin.toml:1:1: missing required key `host-api`",
            ),
        ];
        for (input, expected) in &cases {
            check(input, Err(expected));
        }
    }

    #[test]
    fn size_limits() {
        let many_permissions: Vec<String> = (0..65).map(|i| format!("\"env(V{i})\"")).collect();
        check(
            &format!(
                "{MINIMAL}[permissions]\nrequest = [{}]\n",
                many_permissions.join(", ")
            ),
            Err("plugin.toml:8:11: `request` has 65 permissions; allowed at most 64"),
        );
        let many_args: String = (0..17)
            .map(|i| format!("[[commands.args]]\nname = \"a{i}\"\n"))
            .collect();
        check(
            &format!("{MINIMAL}[[commands]]\nname = \"go\"\nabout = \"Go\"\n{many_args}"),
            Err("plugin.toml:43:8: command `go` has too many arguments; allowed at most 16"),
        );
        let many_commands: String = (0..65)
            .map(|i| format!("[[commands]]\nname = \"c{i}\"\nabout = \"C\"\n"))
            .collect();
        check(
            &format!("{MINIMAL}{many_commands}"),
            Err("plugin.toml:200:8: too many commands; allowed at most 64"),
        );
        let description = "d".repeat(513);
        check(
            &MINIMAL.replace(
                "[plugin]\n",
                &format!("[plugin]\ndescription = \"{description}\"\n"),
            ),
            Err("plugin.toml:2:15: `description` is 513 characters long; allowed at most 512"),
        );
        check(
            &MINIMAL.replace(
                "[plugin]\n",
                "[plugin]\ndescription = \"\"\"\nline one\n\tline two\n\"\"\"\n",
            ),
            Ok(()),
        );
    }
}
