//! `{{ id }}`: {{ description }}
{% if kind == "command" %}
use lord_pdk::{Command, Plugin};

struct {{ type_name }};

/// The greeting, kept apart from the plugin glue so it is easy to test.
fn greeting(name: &str) -> String {
    format!("Hello, {name}!\n")
}

impl Plugin for {{ type_name }} {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            "{{ id }}" => {
                let name = command.arg("name").unwrap_or("world");
                lord_pdk::log::info(&format!("greeting {name}"));
                Ok(greeting(name))
            }
            other => Err(format!("{{ id }} has no command `{other}`")),
        }
    }
}

lord_pdk::export_plugin!({{ type_name }});
{% elif kind == "event-handler" %}
use lord_pdk::{Command, Event, Plugin, data};

struct {{ type_name }};

const SEEN: &str = "seen";

/// How many events this plugin has counted, kept in its own data.
fn seen() -> Result<u64, String> {
    Ok(data::get(SEEN)?
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse().ok())
        .unwrap_or(0))
}

impl Plugin for {{ type_name }} {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            "{{ id }}" => Ok(format!(
                "{{ id }} has seen {} finished commands\n",
                seen()?
            )),
            other => Err(format!("{{ id }} has no command `{other}`")),
        }
    }

    /// Called after each command for every event its
    /// `events-subscribe(...)` grants cover.
    /// Commands run at once deliver their events at once, each in its own
    /// process: `data::update` adds one by compare-and-swap, so no count
    /// is lost.
    fn handle_event(event: Event) -> Result<(), String> {
        if event.topic == "lord.command.finished" {
            data::update(SEEN, |current| {
                let n: u64 = current
                    .and_then(|bytes| std::str::from_utf8(bytes).ok())
                    .and_then(|text| text.parse().ok())
                    .unwrap_or(0);
                Ok((n + 1).to_string().into_bytes())
            })?;
        }
        Ok(())
    }
}

lord_pdk::export_plugin!({{ type_name }});
{% else %}
use lord_pdk::serde_json::json;
use lord_pdk::{Json, Micro, MicroContext};

struct {{ type_name }};
{% if kind == "validator" %}
/// Why `text` is refused, if it is.
fn problem(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        Some("the text is empty".to_owned())
    } else if text.chars().count() > 280 {
        Some(format!("the text has {} characters; at most 280", text.chars().count()))
    } else {
        None
    }
}
{% endif %}
/// The handler's work on plain text, kept apart from the glue.
fn apply(text: &str) -> Result<Json, String> {
{%- if kind == "transformer" %}
    Ok(json!(text.to_uppercase()))
{%- elif kind == "validator" %}
    match problem(text) {
        Some(problem) => Err(problem),
        None => Ok(json!(text)),
    }
{%- elif kind == "formatter" %}
    Ok(json!(text.split_whitespace().collect::<Vec<_>>().join(" ")))
{%- elif kind == "hook" %}
    Ok(json!(
        text.chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect::<String>()
    ))
{%- elif kind == "command-enhancer" %}
    if text.split_whitespace().any(|word| word.starts_with("--color")) {
        Ok(json!(text))
    } else {
        Ok(json!(format!("{} --color=auto", text.trim_end())))
    }
{%- else %}
    Ok(json!({ "words": text.split_whitespace().count() }))
{%- endif %}
}

impl Micro for {{ type_name }} {
    fn execute(ctx: &MicroContext, input: Json) -> Result<Json, String> {
        let text = input.as_str().ok_or("expected a JSON string")?;
        match ctx.id.as_str() {
            "{{ id }}" => apply(text),
            other => Err(format!("{{ id }} has no micro-plugin `{other}`")),
        }
    }
{% if kind == "validator" %}
    fn validate(_ctx: &MicroContext, input: &Json) -> Result<(), String> {
        let text = input.as_str().ok_or("expected a JSON string")?;
        problem(text).map_or(Ok(()), Err)
    }
{% endif -%}
}

lord_pdk::export_micro!({{ type_name }});
{% endif %}
