//! `lord pdk docs`: reference pages for a plugin, from its manifest, its
//! cases, its component's imports and lord's WIT: commands with their
//! arguments, micro-plugin signatures and schemas, each permission in plain
//! words, configuration, events, and examples. Examples are the cases
//! marked `example = true`, so every documented example is one that
//! `lord pdk test` checks.
//!
//! Markdown goes to `docs/index.md`; HTML to `docs/index.html` and
//! `docs/style.css`, a static site with no scripts that a registry can
//! host as it is.

use std::path::{Path, PathBuf};

use lord_host::{Target, TestCase};
use lord_manifest::Manifest;
use minijinja::Environment;
use serde::Serialize;
use serde_json::Value;

use crate::DevkitError;

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "markdown" | "md" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            other => Err(format!(
                "`{other}` is not a docs format; use markdown or html"
            )),
        }
    }
}

const MARKDOWN: &str = include_str!("../templates/docs/index.md");
const HTML: &str = include_str!("../templates/docs/index.html");
const CSS: &str = include_str!("../templates/docs/style.css");

#[derive(Debug, Serialize)]
struct Arg {
    name: String,
    help: String,
    required: bool,
    multiple: bool,
}

#[derive(Debug, Serialize)]
struct CommandDoc {
    name: String,
    usage: String,
    about: String,
    args: Vec<Arg>,
}

#[derive(Debug, Serialize)]
struct MicroDoc {
    id: String,
    kind: String,
    description: String,
    isolation: String,
    signature: String,
    input_schema: Option<String>,
    output_schema: Option<String>,
}

#[derive(Debug, Serialize)]
struct PermissionDoc {
    text: String,
    meaning: String,
    /// The author's reason, from `[permissions] reasons`.
    reason: Option<String>,
    risk: String,
}

#[derive(Debug, Serialize)]
struct ExampleDoc {
    name: String,
    invocation: String,
    expect: Option<String>,
}

#[derive(Debug, Serialize)]
struct InterfaceDoc {
    name: String,
    wit: String,
}

#[derive(Debug, Serialize)]
struct FilterDoc {
    pattern: String,
    field: String,
    equals: String,
}

#[derive(Debug, Serialize)]
struct EventsDoc {
    subscribes: Vec<String>,
    publishes: Vec<String>,
    filters: Vec<FilterDoc>,
}

#[derive(Debug, Serialize)]
struct LimitsDoc {
    time_ms: u128,
    memory_mib: u64,
}

#[derive(Debug, Serialize)]
struct Page {
    id: String,
    name: String,
    version: String,
    description: String,
    category: String,
    license: Option<String>,
    authors: Vec<String>,
    keywords: Vec<String>,
    risk: String,
    host_api: String,
    api: String,
    commands: Vec<CommandDoc>,
    micro: Vec<MicroDoc>,
    permissions: Vec<PermissionDoc>,
    limits: LimitsDoc,
    config_schema: Option<String>,
    events: EventsDoc,
    accepts_messages: bool,
    examples: Vec<ExampleDoc>,
    interfaces: Vec<InterfaceDoc>,
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn example(manifest: &Manifest, case: &TestCase) -> ExampleDoc {
    let invocation = match case.target() {
        Target::Command(command) => {
            let mut words = vec!["lord".to_owned(), command.to_owned()];
            // Positional arguments, in the order the manifest declares.
            if let Some(spec) = manifest
                .commands
                .iter()
                .find(|c| c.name.as_str() == command)
            {
                for arg in &spec.args {
                    for value in case.args.get(arg.name.as_str()).into_iter().flatten() {
                        words.push(shell_word(value));
                    }
                }
            }
            words.join(" ")
        }
        Target::Micro(id) => match &case.input {
            Some(Value::String(text)) => {
                format!("printf '%s' {} | lord pipe {id}", shell_word(text))
            }
            Some(other) => format!(
                "printf '%s' {} | lord pipe --json-input {id}",
                shell_word(&other.to_string())
            ),
            None => format!("lord pipe {id}"),
        },
    };
    let expect = if let Some(stdout) = &case.stdout {
        Some(stdout.trim_end_matches('\n').to_owned())
    } else if let Some(output) = &case.output {
        Some(match output {
            Value::String(text) => text.clone(),
            other @ (Value::Null
            | Value::Bool(_)
            | Value::Number(_)
            | Value::Array(_)
            | Value::Object(_)) => other.to_string(),
        })
    } else if let Some(needle) = &case.contains {
        Some(format!("… {needle} …"))
    } else {
        case.error.as_ref().map(|e| format!("error: … {e} …"))
    };
    ExampleDoc {
        name: case.name.clone(),
        invocation,
        expect,
    }
}

/// The block of `interface NAME { ... }` in `wit`, with its doc comment.
pub fn interface_block(wit: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = wit.lines().collect();
    let head = format!("interface {name} {{");
    let start = lines.iter().position(|l| l.trim() == head)?;
    let mut first = start;
    while first > 0 && lines[first - 1].trim_start().starts_with("///") {
        first -= 1;
    }
    let mut depth = 0i32;
    for (i, line) in lines.iter().enumerate().skip(start) {
        depth += i32::try_from(line.matches('{').count()).unwrap_or(0);
        depth -= i32::try_from(line.matches('}').count()).unwrap_or(0);
        if depth == 0 {
            return Some(lines[first..=i].join("\n"));
        }
    }
    None
}

/// Renders the docs of the plugin described by `manifest` and `cases`
/// whose component imports `imports`. Returns (file name, content) pairs.
pub fn render(
    manifest: &Manifest,
    cases: &[TestCase],
    imports: &[String],
    format: Format,
) -> Result<Vec<(PathBuf, String)>, DevkitError> {
    let plugin = &manifest.plugin;
    let commands = manifest.commands.iter().map(command_doc).collect();
    let micro = manifest.micro.iter().map(micro_doc).collect();
    let permissions = manifest
        .permissions
        .iter()
        .map(|p| PermissionDoc {
            text: p.to_string(),
            meaning: p.describe(),
            reason: manifest.reason_for(p).map(str::to_owned),
            risk: p.risk().to_string(),
        })
        .collect();
    let (subscribes, publishes) = topics(manifest);
    let interfaces = interface_docs(imports);
    let page = Page {
        id: plugin.id.as_str().to_owned(),
        name: plugin.name.clone(),
        version: plugin.version.to_string(),
        description: plugin.description.clone(),
        category: serde_json::to_value(plugin.category)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        license: plugin.license.clone(),
        authors: plugin.authors.clone(),
        keywords: plugin.keywords.clone(),
        risk: manifest.risk_level().to_string(),
        host_api: plugin.host_api.to_string(),
        api: lord_manifest::host_api_version().to_string(),
        commands,
        micro,
        permissions,
        limits: LimitsDoc {
            time_ms: manifest.limits.max_execution().as_millis(),
            memory_mib: manifest.limits.max_memory_mib,
        },
        config_schema: manifest.config_schema.as_ref().map(pretty),
        events: EventsDoc {
            subscribes,
            publishes,
            filters: manifest
                .event_filters
                .iter()
                .map(|f| FilterDoc {
                    pattern: f.pattern.to_string(),
                    field: f.field.clone(),
                    equals: f.equals.to_string(),
                })
                .collect(),
        },
        accepts_messages: manifest.accepts_messages,
        examples: cases
            .iter()
            .filter(|c| c.example)
            .map(|c| example(manifest, c))
            .collect(),
        interfaces,
    };
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    let (name, source) = match format {
        Format::Markdown => ("index.md", MARKDOWN),
        // The `.html` name turns on HTML escaping of every value.
        Format::Html => ("index.html", HTML),
    };
    env.add_template(name, source)
        .map_err(|source| DevkitError::Template {
            name: name.to_owned(),
            source,
        })?;
    let text = env
        .get_template(name)
        .and_then(|t| t.render(&page))
        .map_err(|source| DevkitError::Template {
            name: name.to_owned(),
            source,
        })?;
    let mut files = vec![(PathBuf::from(name), tidy(&text))];
    if format == Format::Html {
        files.push((PathBuf::from("style.css"), CSS.to_owned()));
    }
    Ok(files)
}

/// A command's usage line (`greet NAME [GREETING]`) and arguments.
fn command_doc(c: &lord_manifest::CommandSpec) -> CommandDoc {
    let mut usage = c.name.as_str().to_owned();
    for a in &c.args {
        if a.flag {
            usage.push_str(&format!(" [--{}]", a.name));
            continue;
        }
        let name = a.name.as_str().to_uppercase();
        let name = if a.multiple {
            format!("{name}...")
        } else {
            name
        };
        usage.push(' ');
        usage.push_str(&if a.required {
            name
        } else {
            format!("[{name}]")
        });
    }
    CommandDoc {
        name: c.name.as_str().to_owned(),
        usage,
        about: c.about.clone(),
        args: c
            .args
            .iter()
            .map(|a| Arg {
                name: a.name.as_str().to_owned(),
                help: a.help.clone(),
                required: a.required,
                multiple: a.multiple,
            })
            .collect(),
    }
}

/// A micro-plugin's signature (`trim(input: string) -> result<string,
/// error>`) and schemas.
fn micro_doc(m: &lord_manifest::MicroSpec) -> MicroDoc {
    let shape = |schema: &Option<Value>| {
        schema
            .as_ref()
            .and_then(|s| s.get("type"))
            .map_or_else(|| "json".to_owned(), |t| t.to_string().replace('"', ""))
    };
    MicroDoc {
        id: m.id.as_str().to_owned(),
        kind: m.kind.as_str().to_owned(),
        description: m.description.clone(),
        isolation: m.isolation.as_str().to_owned(),
        signature: format!(
            "{}(input: {}) -> result<{}, error>",
            m.id.as_str(),
            shape(&m.input_schema),
            shape(&m.output_schema)
        ),
        input_schema: m.input_schema.as_ref().map(pretty),
        output_schema: m.output_schema.as_ref().map(pretty),
    }
}

/// The topics the plugin subscribes to and publishes on.
fn topics(manifest: &Manifest) -> (Vec<String>, Vec<String>) {
    let mut subscribes = Vec::new();
    let mut publishes = Vec::new();
    for p in &manifest.permissions {
        match p {
            lord_manifest::Permission::EventsSubscribe(topic) => subscribes.push(topic.to_string()),
            lord_manifest::Permission::EventsPublish(topic) => publishes.push(topic.to_string()),
            lord_manifest::Permission::FsRead(_)
            | lord_manifest::Permission::FsWrite(_)
            | lord_manifest::Permission::Net(_)
            | lord_manifest::Permission::Env(_)
            | lord_manifest::Permission::Secret(_)
            | lord_manifest::Permission::Exec(_)
            | lord_manifest::Permission::Db(_)
            | lord_manifest::Permission::Ai(_)
            | lord_manifest::Permission::SysMetrics
            | lord_manifest::Permission::SysMetricsCommandLines
            | lord_manifest::Permission::StateShared(_)
            | lord_manifest::Permission::Message(_)
            | lord_manifest::Permission::Tty => {}
        }
    }
    (subscribes, publishes)
}

/// The WIT of each `lord:plugin` interface the component imports.
fn interface_docs(imports: &[String]) -> Vec<InterfaceDoc> {
    let mut interfaces: Vec<InterfaceDoc> = Vec::new();
    for import in imports {
        let Some(rest) = import.strip_prefix("lord:plugin/") else {
            continue;
        };
        let name = rest.split('@').next().unwrap_or(rest);
        if name == "types" || interfaces.iter().any(|i| i.name == name) {
            continue;
        }
        if let Some(wit) = interface_block(crate::sdk::WIT, name) {
            interfaces.push(InterfaceDoc {
                name: name.to_owned(),
                wit,
            });
        }
    }
    interfaces
}

/// Collapses the runs of blank lines template blocks leave behind.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Writes rendered files into `out`, each atomically.
pub fn write(out: &Path, files: &[(PathBuf, String)]) -> Result<Vec<PathBuf>, DevkitError> {
    let mut written = Vec::new();
    for (name, content) in files {
        let path = out.join(name);
        crate::sdk::write_if_changed(&path, content.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_blocks_come_with_their_doc_comments() {
        let block = interface_block(crate::sdk::WIT, "secrets").expect("secrets");
        assert!(block.starts_with("///"), "{block}");
        assert!(block.contains("get: func(name: string)"));
        assert!(block.trim_end().ends_with('}'));
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("World"), "World");
        assert_eq!(shell_word("it's here"), r"'it'\''s here'");
    }
}
