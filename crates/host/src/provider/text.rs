//! The `text` provider: lord's own micro-plugins for gluing text and JSON
//! together in pipelines, `json.parse` and `lines`. Native Rust, isolation
//! `none`, trusted by construction.

use std::sync::Arc;
use std::time::Duration;

use lord_manifest::{Isolation, MicroKind, PluginId, Version};
use lord_micro::{CallContext, MicroPlugin, MicroSecurity, NativeHandler};
use serde_json::{Value, json};

use super::Provider;

/// The `text` provider.
#[derive(Debug, Clone, Copy)]
pub struct Text;

impl Provider for Text {
    fn id(&self) -> PluginId {
        PluginId::from_static("text")
    }

    fn version(&self) -> Version {
        Version::new(0, 1, 0)
    }

    fn description(&self) -> &'static str {
        "Micro-plugins for text and JSON in pipelines: json.parse and lines"
    }

    fn micro(&self) -> Vec<MicroPlugin> {
        vec![
            native(
                "json.parse",
                "Parse text as JSON",
                NativeHandler::new(|input: Value, _: &CallContext| {
                    let text = input.as_str().ok_or("expected a JSON string")?;
                    serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))
                }),
            ),
            native(
                "lines",
                "Split text into an array of lines",
                NativeHandler::new(|input: Value, _: &CallContext| {
                    let text = input.as_str().ok_or("expected a JSON string")?;
                    Ok(json!(text.lines().collect::<Vec<_>>()))
                }),
            ),
        ]
    }
}

/// A utility micro-plugin over a JSON string.
fn native(id: &'static str, description: &str, handler: NativeHandler) -> MicroPlugin {
    MicroPlugin {
        id: lord_manifest::MicroId::from_static(id),
        kind: MicroKind::Utility,
        description: description.to_owned(),
        input_schema: Some(json!({"type": "string"})),
        output_schema: None,
        security: MicroSecurity {
            max_execution: Duration::from_secs(5),
            max_memory_bytes: 0,
            allowed: Vec::new(),
            isolation: Isolation::None,
        },
        handler: Arc::new(handler),
    }
}
