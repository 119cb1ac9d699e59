//! Micro-plugins: a chain of 10 trivial WASM micro-plugins through lord's
//! `MicroManager` (JSON values between steps, schema checks at the edges,
//! a pooled warm instance per micro-plugin) against 10 bare wasmtime calls
//! of the same component's `execute` on one warm instance (JSON text in and
//! out, no checks); and a native micro-plugin call through the manager
//! against calling the same Rust function directly.

use std::sync::Arc;

use anyhow::{Result, anyhow, ensure};
use lord_host::lord_micro::{
    CallContext, MicroManager, MicroPlugin, MicroSecurity, NativeHandler, Pipeline,
};
use lord_manifest::{Isolation, MicroId, MicroKind};
use serde_json::{Value, json};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::fixtures::{self, Plugins};
use crate::timing::{self, Pair, Plan};

mod bindings {
    wasmtime::component::bindgen!({
        world: "micro-plugin",
        path: "../../wit",
        imports: { default: trappable },
        exports: { default: async },
    });
}

use bindings::MicroPlugin as MicroWorld;
use bindings::lord::plugin::types::MicroContext;

/// Steps in the measured chain.
pub(crate) const CHAIN: usize = 10;

#[derive(Debug, Clone)]
pub(crate) struct MicroResults {
    pub(crate) chain10: Pair,
    pub(crate) native: Pair,
}

/// A bare store for a strict micro-plugin: every import a trap, as lord
/// links it, and a default WASI context that nothing can reach.
struct StrictState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for StrictState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

pub(crate) async fn measure(plugins: &Plugins, plan: Plan) -> Result<MicroResults> {
    let chain10 = chain(plugins, plan).await?;
    let native = native(plan).await?;
    Ok(MicroResults { chain10, native })
}

/// Runs only our side of the chain, for as long as the plan's batches take,
/// so a profiler sees nothing else.
pub(crate) async fn profile(plugins: &Plugins, plan: Plan) -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let mut framework = lord_host::Framework::open(fixtures::host_config(scratch.path(), "home")?)?;
    fixtures::install(&mut framework, &[plugins.micro_text()]).await?;
    let manager = framework.micro_manager()?;
    let pipeline = Pipeline::parse(&["trim"; CHAIN].join(" | ")).map_err(|e| anyhow!("{e}"))?;
    let prepared = manager.prepare(&pipeline)?;
    let ctx = CallContext::default();
    let samples = timing::single(plan, async || {
        let out = manager.run_prepared(&prepared, json!(" x "), &ctx).await?;
        std::hint::black_box(out);
        Ok(())
    })
    .await?;
    eprintln!(
        "lord-bench: chain of {CHAIN}: {:.0} ns",
        samples.median_ns()
    );
    Ok(())
}

async fn chain(plugins: &Plugins, plan: Plan) -> Result<Pair> {
    let scratch = tempfile::tempdir()?;
    let mut framework = lord_host::Framework::open(fixtures::host_config(scratch.path(), "home")?)?;
    let text_dir = plugins.micro_text();
    fixtures::install(&mut framework, std::slice::from_ref(&text_dir)).await?;
    let manager = framework.micro_manager()?;
    let pipeline = Pipeline::parse(&["trim"; CHAIN].join(" | ")).map_err(|e| anyhow!("{e}"))?;
    let ctx = CallContext::default();
    // Prepared once, as a CLI embedding the library would for a hot path.
    let prepared = manager.prepare(&pipeline)?;
    let ours_out = manager.run_prepared(&prepared, json!(" x "), &ctx).await?;
    ensure!(ours_out == json!("x"), "chain gave {ours_out}");

    // Bare: the same component, compiled by an engine configured like
    // lord's, linked strictly (all imports traps), one warm instance.
    let engine = Engine::new(&crate::bare::config()).map_err(|e| anyhow!("{e:#}"))?;
    let bytes = std::fs::read(text_dir.join("plugin.wasm"))?;
    let component = Component::new(&engine, &bytes).map_err(|e| anyhow!("{e:#}"))?;
    let mut linker: Linker<StrictState> = Linker::new(&engine);
    linker
        .define_unknown_imports_as_traps(&component)
        .map_err(|e| anyhow!("{e:#}"))?;
    let pre = bindings::MicroPluginPre::new(
        linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow!("{e:#}"))?,
    )
    .map_err(|e| anyhow!("{e:#}"))?;
    let mut store = Store::new(
        &engine,
        StrictState {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        },
    );
    store.set_epoch_deadline(crate::bare::FAR_DEADLINE);
    let instance: MicroWorld = pre
        .instantiate_async(&mut store)
        .await
        .map_err(|e| anyhow!("{e:#}"))?;
    let wire_ctx = MicroContext {
        id: "trim".to_owned(),
        key: None,
    };
    let micro = instance.lord_plugin_micro();

    eprintln!("lord-bench: micro: chain of {CHAIN} ...");
    timing::interleaved(
        plan,
        async || {
            let out = manager.run_prepared(&prepared, json!(" x "), &ctx).await?;
            std::hint::black_box(out);
            Ok(())
        },
        async || {
            let mut text = "\" x \"".to_owned();
            for _ in 0..CHAIN {
                text = micro
                    .call_execute(&mut store, &text, &wire_ctx)
                    .await
                    .map_err(|e| anyhow!("{e:#}"))?
                    .map_err(|e| anyhow!(e))?;
            }
            std::hint::black_box(text);
            Ok(())
        },
    )
    .await
}

/// The function both sides of the native comparison run.
fn upper(input: Value) -> Result<Value, String> {
    input
        .as_str()
        .map(|s| json!(s.to_uppercase()))
        .ok_or_else(|| "expected a string".to_owned())
}

async fn native(plan: Plan) -> Result<Pair> {
    let manager = MicroManager::new();
    let id: MicroId = "upper".parse()?;
    manager.register(MicroPlugin {
        id: id.clone(),
        kind: MicroKind::Transformer,
        description: String::new(),
        input_schema: None,
        output_schema: None,
        security: MicroSecurity {
            max_execution: std::time::Duration::from_secs(1),
            max_memory_bytes: 0,
            allowed: Vec::new(),
            isolation: Isolation::None,
        },
        handler: Arc::new(NativeHandler::new(|input: Value, _: &CallContext| {
            upper(input)
        })),
    })?;
    let ctx = CallContext::default();
    let input = json!("x");
    eprintln!("lord-bench: micro: native call ...");
    timing::interleaved(
        plan,
        async || {
            let out = manager.execute(&id, input.clone(), &ctx).await?;
            std::hint::black_box(out);
            Ok(())
        },
        async || {
            let out = upper(std::hint::black_box(input.clone())).map_err(|e| anyhow!(e))?;
            std::hint::black_box(out);
            Ok(())
        },
    )
    .await
}
