//! Micro-plugins built into `lord` itself: native Rust, isolation `none`,
//! trusted by construction. They glue text and JSON together in pipelines.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use lord_host::lord_micro::{CallContext, MicroManager, MicroPlugin, MicroSecurity, NativeHandler};
use lord_manifest::{Isolation, MicroKind};
use serde_json::{Value, json};

fn native(
    id: &str,
    kind: MicroKind,
    description: &str,
    input_schema: Option<Value>,
    handler: NativeHandler,
) -> Result<MicroPlugin> {
    Ok(MicroPlugin {
        id: id.parse()?,
        kind,
        description: description.to_owned(),
        input_schema,
        output_schema: None,
        security: MicroSecurity {
            max_execution: Duration::from_secs(5),
            max_memory_bytes: 0,
            allowed: Vec::new(),
            isolation: Isolation::None,
        },
        handler: Arc::new(handler),
    })
}

pub(crate) fn register(manager: &MicroManager) -> Result<()> {
    manager.register(native(
        "json.parse",
        MicroKind::Utility,
        "Parse text as JSON",
        Some(json!({"type": "string"})),
        NativeHandler::new(|input: Value, _: &CallContext| {
            let text = input.as_str().ok_or("expected a JSON string")?;
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))
        }),
    )?)?;
    manager.register(native(
        "lines",
        MicroKind::Utility,
        "Split text into an array of lines",
        Some(json!({"type": "string"})),
        NativeHandler::new(|input: Value, _: &CallContext| {
            let text = input.as_str().ok_or("expected a JSON string")?;
            Ok(json!(text.lines().collect::<Vec<_>>()))
        }),
    )?)?;
    Ok(())
}
