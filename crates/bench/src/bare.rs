//! Bare wasmtime: the baseline lord's numbers are compared with. The same
//! component, run with an engine configured exactly like lord-sandbox's but
//! with none of lord's machinery (no store database, no contract check, no
//! limits, output budget or deadline timer): deserialise, instantiate, call.
//!
//! Boundary exception: lord-sandbox is the only crate of lord that names
//! wasmtime. This crate names it too, because bare wasmtime is what it
//! measures lord against; nothing in lord depends on this crate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use bindings::lord::plugin::{
    ai, config, data, delivery, document, events, exec, kv, log, messaging, metrics, secrets,
    shared, sql, types,
};
use bindings::{Plugin, PluginPre};

pub(crate) use bindings::exports::lord::plugin::guest::Invocation;
pub(crate) use bindings::lord::plugin::types::Arg;

/// Typed bindings for the `plugin` world, generated here as lord-sandbox
/// generates its own, so both sides make the same kind of call.
mod bindings {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../../wit",
        imports: {
            "lord:plugin/messaging.request": async | trappable,
            default: trappable,
        },
        exports: { default: async },
    });
}

/// lord-sandbox's engine settings (`crates/sandbox/src/engine.rs`), repeated
/// here because the sandbox does not expose its `Config`. Keep them in step.
const MAX_WASM_STACK: usize = 1024 * 1024;
const ASYNC_STACK: usize = MAX_WASM_STACK + 1024 * 1024;

/// Far enough that the deadline never passes: this engine's epoch is never
/// advanced, and the deadline is added to the current epoch without
/// saturating, so `u64::MAX` itself would overflow.
pub(crate) const FAR_DEADLINE: u64 = 1 << 40;

/// The data of a bare store: a default WASI context and nothing else.
pub(crate) struct BareState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// What an embedder writing shared state by hand would keep: a map of
    /// values and versions, no grants.
    shared: HashMap<String, (Vec<u8>, u64)>,
}

impl WasiView for BareState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for BareState {}

impl data::Host for BareState {
    fn get(&mut self, _key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
        Ok(Ok(None))
    }
    fn set(
        &mut self,
        _key: String,
        _value: Vec<u8>,
        _persistent: bool,
    ) -> wasmtime::Result<Result<(), String>> {
        Ok(Ok(()))
    }
    fn delete(&mut self, _key: String) -> wasmtime::Result<Result<bool, String>> {
        Ok(Ok(false))
    }
    fn keys(&mut self) -> wasmtime::Result<Result<Vec<String>, String>> {
        Ok(Ok(Vec::new()))
    }
    fn get_versioned(
        &mut self,
        _key: String,
    ) -> wasmtime::Result<Result<Option<data::Versioned>, String>> {
        Ok(Ok(None))
    }
    fn compare_and_swap(
        &mut self,
        _key: String,
        _expected: u64,
        _value: Vec<u8>,
    ) -> wasmtime::Result<Result<data::CasOutcome, String>> {
        Ok(Ok(data::CasOutcome::Swapped(1)))
    }
}

impl shared::Host for BareState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<shared::Versioned>, String>> {
        Ok(Ok(self.shared.get(&key).map(|(value, version)| {
            shared::Versioned {
                value: value.clone(),
                version: *version,
            }
        })))
    }
    fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<u64, String>> {
        let slot = self.shared.entry(key).or_insert_with(|| (Vec::new(), 0));
        slot.0 = value;
        slot.1 += 1;
        Ok(Ok(slot.1))
    }
    fn compare_and_swap(
        &mut self,
        key: String,
        expected: u64,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<shared::CasOutcome, String>> {
        let slot = self.shared.entry(key).or_insert_with(|| (Vec::new(), 0));
        if slot.1 != expected {
            return Ok(Ok(shared::CasOutcome::Conflict(Some(shared::Versioned {
                value: slot.0.clone(),
                version: slot.1,
            }))));
        }
        slot.0 = value;
        slot.1 += 1;
        Ok(Ok(shared::CasOutcome::Swapped(slot.1)))
    }
}

impl messaging::Host for BareState {
    async fn request(
        &mut self,
        _to: String,
        _payload: String,
        _timeout_ms: u32,
    ) -> wasmtime::Result<Result<String, String>> {
        Ok(Err("no other plugins in the bare host".to_owned()))
    }

    fn send(
        &mut self,
        _to: String,
        _payload: String,
        _priority: u8,
    ) -> wasmtime::Result<Result<bool, String>> {
        Ok(Err("no other plugins in the bare host".to_owned()))
    }

    fn broadcast(
        &mut self,
        _payload: String,
        _priority: u8,
    ) -> wasmtime::Result<Result<u32, String>> {
        Ok(Ok(0))
    }
}

// The bare host runs no programs: the baseline for calls is wasmtime
// alone (`exec_overhead_ms` sets a plugin's run beside a direct spawn).
impl exec::Host for BareState {
    fn run(&mut self, _command: exec::Command) -> wasmtime::Result<Result<exec::Output, String>> {
        Ok(Err("the bare host runs no programs".to_owned()))
    }
}

// Nor does it read the machine: no bench plugin imports `metrics`.
impl metrics::Host for BareState {
    fn system(&mut self) -> wasmtime::Result<Result<metrics::SystemFigures, String>> {
        Ok(Err("the bare host reads no figures".to_owned()))
    }

    fn processes(&mut self) -> wasmtime::Result<Result<Vec<metrics::ProcessFigures>, String>> {
        Ok(Err("the bare host reads no figures".to_owned()))
    }

    fn containers(&mut self) -> wasmtime::Result<Result<Vec<metrics::ContainerFigures>, String>> {
        Ok(Err("the bare host reads no figures".to_owned()))
    }
}

fn refused() -> ai::AiError {
    ai::AiError::Refused("the bare host asks no model".to_owned())
}

// Nor does it ask a model: no bench plugin imports `ai`, and no stream is
// ever made, so none is read or dropped.
impl ai::Host for BareState {
    fn complete(&mut self, _ask: ai::Ask) -> wasmtime::Result<Result<ai::Answer, ai::AiError>> {
        Ok(Err(refused()))
    }

    fn stream(
        &mut self,
        _ask: ai::Ask,
    ) -> wasmtime::Result<Result<Resource<ai::ReplyStream>, ai::AiError>> {
        Ok(Err(refused()))
    }
}

impl ai::HostReplyStream for BareState {
    fn next(
        &mut self,
        _stream: Resource<ai::ReplyStream>,
    ) -> wasmtime::Result<Result<Option<String>, ai::AiError>> {
        Ok(Err(refused()))
    }

    fn answer(
        &mut self,
        _stream: Resource<ai::ReplyStream>,
    ) -> wasmtime::Result<Result<ai::Answer, ai::AiError>> {
        Ok(Err(refused()))
    }

    fn drop(&mut self, _stream: Resource<ai::ReplyStream>) -> wasmtime::Result<()> {
        Ok(())
    }
}

fn no_database() -> sql::DbError {
    sql::DbError::Refused("the bare host reaches no database".to_owned())
}

// Nor a database (`sql`, `kv`, `document`): the bare side of
// `db_wasm_query_ratio` is the native session itself, never a plugin.
impl sql::Host for BareState {
    fn query(
        &mut self,
        _profile: String,
        _statement: String,
        _params: Vec<sql::Value>,
    ) -> wasmtime::Result<Result<sql::Rows, sql::DbError>> {
        Ok(Err(no_database()))
    }

    fn execute(
        &mut self,
        _profile: String,
        _statement: String,
        _params: Vec<sql::Value>,
    ) -> wasmtime::Result<Result<u64, sql::DbError>> {
        Ok(Err(no_database()))
    }

    fn batch(
        &mut self,
        _profile: String,
        _statements: Vec<sql::Statement>,
    ) -> wasmtime::Result<Result<Vec<sql::Rows>, sql::DbError>> {
        Ok(Err(no_database()))
    }
}

impl kv::Host for BareState {
    fn get(
        &mut self,
        _p: String,
        _k: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, kv::DbError>> {
        Ok(Err(no_database()))
    }

    fn set(
        &mut self,
        _p: String,
        _k: String,
        _v: Vec<u8>,
        _ttl: Option<u64>,
    ) -> wasmtime::Result<Result<(), kv::DbError>> {
        Ok(Err(no_database()))
    }

    fn delete(
        &mut self,
        _p: String,
        _k: Vec<String>,
    ) -> wasmtime::Result<Result<u64, kv::DbError>> {
        Ok(Err(no_database()))
    }

    fn exists(&mut self, _p: String, _k: String) -> wasmtime::Result<Result<bool, kv::DbError>> {
        Ok(Err(no_database()))
    }

    fn incr(
        &mut self,
        _p: String,
        _k: String,
        _by: i64,
    ) -> wasmtime::Result<Result<i64, kv::DbError>> {
        Ok(Err(no_database()))
    }

    fn expire(
        &mut self,
        _p: String,
        _k: String,
        _ttl: u64,
    ) -> wasmtime::Result<Result<bool, kv::DbError>> {
        Ok(Err(no_database()))
    }

    fn ttl(
        &mut self,
        _p: String,
        _k: String,
    ) -> wasmtime::Result<Result<Option<u64>, kv::DbError>> {
        Ok(Err(no_database()))
    }

    fn scan(
        &mut self,
        _p: String,
        _pattern: String,
        _limit: u32,
    ) -> wasmtime::Result<Result<Vec<String>, kv::DbError>> {
        Ok(Err(no_database()))
    }
}

impl document::Host for BareState {
    fn find(
        &mut self,
        _p: String,
        _c: String,
        _f: String,
        _o: document::FindOptions,
    ) -> wasmtime::Result<Result<Vec<String>, document::DbError>> {
        Ok(Err(no_database()))
    }

    fn insert(
        &mut self,
        _p: String,
        _c: String,
        _d: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<String>, document::DbError>> {
        Ok(Err(no_database()))
    }

    fn update(
        &mut self,
        _p: String,
        _c: String,
        _f: String,
        _u: String,
        _many: bool,
    ) -> wasmtime::Result<Result<document::UpdateOutcome, document::DbError>> {
        Ok(Err(no_database()))
    }

    fn delete(
        &mut self,
        _p: String,
        _c: String,
        _f: String,
        _many: bool,
    ) -> wasmtime::Result<Result<u64, document::DbError>> {
        Ok(Err(no_database()))
    }
}

impl config::Host for BareState {
    fn get(&mut self, _key: String) -> wasmtime::Result<Option<String>> {
        Ok(None)
    }
}

impl delivery::Host for BareState {
    fn propagation(&mut self) -> wasmtime::Result<Option<delivery::Level>> {
        Ok(None)
    }
}

impl secrets::Host for BareState {
    fn get(&mut self, _name: String) -> wasmtime::Result<Result<String, String>> {
        Ok(Err("no secrets in the bare host".to_owned()))
    }
}

impl events::Host for BareState {
    fn publish(
        &mut self,
        _topic: String,
        _payload: String,
        _propagation: events::Propagation,
        _sensitive: bool,
    ) -> wasmtime::Result<Result<(), String>> {
        Ok(Ok(()))
    }
}

impl log::Host for BareState {
    fn log(&mut self, _level: types::Level, _message: String) -> wasmtime::Result<()> {
        Ok(())
    }
}

/// An engine and a linker made once, as any embedder would.
/// The engine configuration lord-sandbox uses.
pub(crate) fn config() -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(ASYNC_STACK);
    // The same pooled instance allocator, sized the same, so ratios measure
    // lord's own work and not a difference in configuration.
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(128)
        .total_core_instances(128 * 8)
        .total_memories(128)
        .total_tables(128 * 4)
        .total_stacks(128)
        .max_tables_per_module(4)
        .max_memory_size(4096 * 1024 * 1024);
    // Slots reset as lord-sandbox's are: written pages found by the
    // kernel's scan and restored in place, up to the same sizes.
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(wasmtime::Enabled::Yes)
            .linear_memory_keep_resident(1 << 20)
            .table_keep_resident(256 << 10);
    }
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

pub(crate) struct Bare {
    engine: Engine,
    linker: Linker<BareState>,
}

/// One bare instance, kept warm for repeated calls.
pub(crate) struct BareInstance {
    store: Store<BareState>,
    plugin: Plugin,
}

impl Bare {
    pub(crate) fn new() -> Result<Self> {
        let engine = Engine::new(&config()).map_err(|e| anyhow!("starting wasmtime: {e:#}"))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow!("linking WASI: {e:#}"))?;
        Plugin::add_to_linker::<_, HasSelf<BareState>>(&mut linker, |state| state)
            .map_err(|e| anyhow!("linking the log interface: {e:#}"))?;
        Ok(Self { engine, linker })
    }

    /// Compiles `wasm` ahead of time into `dir`, as lord's compiled cache
    /// does at install, and returns the `.cwasm` file.
    pub(crate) fn precompile(&self, wasm: &Path, dir: &Path) -> Result<PathBuf> {
        let bytes = std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
        let compiled = self
            .engine
            .precompile_component(&bytes)
            .map_err(|e| anyhow!("compiling {}: {e:#}", wasm.display()))?;
        let out = dir.join("bare.cwasm");
        std::fs::write(&out, compiled).with_context(|| format!("writing {}", out.display()))?;
        Ok(out)
    }

    /// Loads compiled code from disk.
    pub(crate) fn load(&self, cwasm: &Path) -> Result<Component> {
        // SAFETY: the file was written by `precompile` above with this very
        // engine's settings, into a temporary folder only this process
        // uses; wasmtime also checks its header.
        unsafe { Component::deserialize_file(&self.engine, cwasm) }
            .map_err(|e| anyhow!("loading {}: {e:#}", cwasm.display()))
    }

    /// A new store with a default WASI context, and the component
    /// instantiated in it (imports resolved by the linker on the way).
    pub(crate) async fn instantiate(&self, component: &Component) -> Result<BareInstance> {
        let mut store = self.store();
        let plugin = Plugin::instantiate_async(&mut store, component, &self.linker)
            .await
            .map_err(|e| anyhow!("instantiating: {e:#}"))?;
        Ok(BareInstance { store, plugin })
    }

    /// The component pre-linked once, as an embedder keeps it to make many
    /// instances.
    pub(crate) fn pre_link(&self, component: &Component) -> Result<PluginPre<BareState>> {
        self.linker
            .instantiate_pre(component)
            .and_then(PluginPre::new)
            .map_err(|e| anyhow!("pre-linking: {e:#}"))
    }

    /// A new store and an instance from pre-linked code.
    pub(crate) async fn instantiate_pre(&self, pre: &PluginPre<BareState>) -> Result<BareInstance> {
        let mut store = self.store();
        let plugin = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| anyhow!("instantiating: {e:#}"))?;
        Ok(BareInstance { store, plugin })
    }

    fn store(&self) -> Store<BareState> {
        let state = BareState {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            shared: HashMap::new(),
        };
        let mut store = Store::new(&self.engine, state);
        store.set_epoch_deadline(FAR_DEADLINE);
        store
    }

    /// One iteration of the load benchmark: from compiled code on disk to
    /// the end of the first call.
    pub(crate) async fn load_and_call(
        &self,
        cwasm: &Path,
        invocation: &Invocation,
    ) -> Result<String> {
        let component = self.load(cwasm)?;
        let mut instance = self.instantiate(&component).await?;
        instance.run_command(invocation).await
    }
}

impl BareInstance {
    pub(crate) async fn run_command(&mut self, invocation: &Invocation) -> Result<String> {
        self.plugin
            .lord_plugin_guest()
            .call_run_command(&mut self.store, invocation)
            .await
            .map_err(|e| anyhow!("run-command trapped: {e:#}"))?
            .map_err(|message| anyhow!("run-command failed: {message}"))
    }
}

/// A `run-command` invocation with one `iterations` argument, or none.
pub(crate) fn invocation(command: &str, iterations: Option<u64>) -> Invocation {
    Invocation {
        command: command.to_owned(),
        args: iterations
            .map(|n| Arg {
                name: "iterations".to_owned(),
                values: vec![n.to_string()],
            })
            .into_iter()
            .collect(),
    }
}
