//! The engine: one per process, with its linker, epoch ticker and compiled
//! cache, and the per-plugin `InstancePre` it produces.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lord_manifest::{Isolation, Permission, PluginId};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Config, Enabled, Engine, EngineWeak, InstanceAllocationStrategy, PoolingAllocationConfig,
};

use crate::bindings::PluginPre;
use crate::cache::CompiledCache;
use crate::capability::Grants;
use crate::contract::{self, ContractReport, Withheld, World};
use crate::error::{CallError, SandboxError};
use crate::instance::{MicroInstance, PluginInstance};
use crate::limits::Limits;
use crate::links::Links;
use crate::micro_bindings::MicroPluginPre;
use crate::session::StoreState;

/// How often the epoch advances. The deadline check runs once per tick, so
/// this is the granularity of the time limit; a tick costs one atomic
/// increment on a background thread.
const EPOCH_TICK: Duration = Duration::from_millis(1);

/// The wasm stack cap, engine-wide. Deep recursion traps here instead of
/// overflowing the host's stack.
const MAX_WASM_STACK: usize = 1024 * 1024;

/// An engine configured for untrusted code, before its linker exists: the
/// expensive part of starting (reserving the instance pool), which needs
/// nothing from the store, so a process can begin it before it knows which
/// host interfaces a disabled provider withholds.
pub struct BareEngine(Engine);

impl std::fmt::Debug for BareEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BareEngine").finish_non_exhaustive()
    }
}

impl BareEngine {
    /// Configures the engine. Pooled first; a machine that cannot reserve
    /// the pool's address space (a tight `ulimit -v`) still gets a working
    /// engine.
    pub fn start() -> Result<Self, SandboxError> {
        Engine::new(&config(true))
            .or_else(|_| Engine::new(&config(false)))
            .map(Self)
            .map_err(|e| SandboxError::Engine(format!("{e:#}")))
    }
}

/// The sandbox: a wasmtime engine configured for untrusted code.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    /// WASI and lord's host interfaces, for every component.
    linker: Linker<StoreState>,
    /// `linker` plus `wasi:http`, made the first time a component imports
    /// it: few do (the contract lets only those granted `net`), and
    /// linking it cost every process that runs a plugin about a quarter
    /// of its linker's set-up.
    http_linker: OnceLock<Result<Linker<StoreState>, String>>,
    cache: CompiledCache,
    /// Host interfaces left out of the linker, and why.
    withheld: Withheld,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Starts the engine, with its compiled cache under `cache_root` and
    /// every host interface linked.
    pub fn new(cache_root: &Path) -> Result<Self, SandboxError> {
        Self::with_withheld(cache_root, Withheld::default())
    }

    /// Starts the engine without the host interfaces in `withheld` (those
    /// of a disabled provider): a component importing one is refused with
    /// the reason given.
    pub fn with_withheld(cache_root: &Path, withheld: Withheld) -> Result<Self, SandboxError> {
        Self::from_engine(BareEngine::start()?, cache_root, withheld)
    }

    /// Finishes what [`BareEngine::start`] began: links the host interfaces
    /// (without those in `withheld`), opens the compiled cache and starts
    /// the epoch ticker.
    pub fn from_engine(
        started: BareEngine,
        cache_root: &Path,
        withheld: Withheld,
    ) -> Result<Self, SandboxError> {
        let BareEngine(engine) = started;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| SandboxError::Engine(format!("{e:#}")))?;
        // `wasi:http` is linked when a component imports it
        // (`Inner::linker_for`); the contract check lets only those whose
        // manifest requests `net` import it.
        crate::interfaces::link(&mut linker, &withheld)
            .map_err(|e| SandboxError::Engine(format!("{e:#}")))?;

        let cache = CompiledCache::open(cache_root, &engine)?;
        spawn_epoch_ticker(engine.weak())
            .map_err(|e| SandboxError::Engine(format!("could not start the epoch ticker: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                http_linker: OnceLock::new(),
                cache,
                withheld,
            }),
        })
    }

    /// Compiles a component that is being installed (or loads its compiled
    /// form, when the cache has this exact component): checks it against
    /// the contract and the requested permissions and fills the cache.
    /// Returns the component's SHA-256.
    pub fn install_check(
        &self,
        plugin: &PluginId,
        wasm: &Path,
        requested: &[Permission],
    ) -> Result<(String, ContractReport), SandboxError> {
        let bytes = std::fs::read(wasm).map_err(|source| SandboxError::Read {
            path: wasm.to_path_buf(),
            source,
        })?;
        let sha256 = sha256_hex(&bytes);
        let inner = &self.inner;
        // The hash is of the bytes just read, so a cached compile of the same
        // hash is this component: reinstalling, rolling back or testing it
        // again costs a load, not a compile.
        let component = inner.cache.load_or_compile(&inner.engine, wasm, &sha256)?;
        let world = if component
            .component_type()
            .exports(&inner.engine)
            .any(|(name, _)| name.starts_with(World::Micro.export()))
        {
            World::Micro
        } else {
            World::Plugin
        };
        let report = self.check(world, plugin, &component, requested)?;
        // Pre-linking proves every import resolves on this host.
        inner
            .linker_for(&component)?
            .instantiate_pre(&component)
            .map_err(|e| link_error(plugin, e))?;
        Ok((sha256, report))
    }

    /// Whether the cached compiled code of the component `sha256` passes
    /// its tag, hashed in full, and how long checking it took: what a load
    /// pays before deserialising, until the entry is sealed.
    pub fn check_cached(&self, sha256: &str) -> (bool, Duration) {
        self.inner.cache.check(sha256)
    }

    /// Reads what a component is without judging it: its world, imports
    /// and exports, size and compile time. `lord pdk validate` weighs these
    /// against the manifest and reports every finding, where
    /// [`install_check`](Self::install_check) stops at the first.
    pub fn inspect(&self, wasm: &Path) -> Result<ComponentFacts, SandboxError> {
        let bytes = std::fs::read(wasm).map_err(|source| SandboxError::Read {
            path: wasm.to_path_buf(),
            source,
        })?;
        let sha256 = sha256_hex(&bytes);
        let inner = &self.inner;
        let started = std::time::Instant::now();
        // Compiled fresh, not from the cache: the compile time is one of
        // the facts.
        let component =
            Component::new(&inner.engine, &bytes).map_err(|e| SandboxError::Compile {
                path: wasm.to_path_buf(),
                reason: format!("{e:#}"),
            })?;
        let compile = started.elapsed();
        let ty = component.component_type();
        let exports: Vec<String> = ty
            .exports(&inner.engine)
            .map(|(n, _)| n.to_owned())
            .collect();
        let micro = exports
            .iter()
            .any(|name| name.starts_with(World::Micro.export()));
        Ok(ComponentFacts {
            sha256,
            size_bytes: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
            micro,
            imports: ty
                .imports(&inner.engine)
                .map(|(n, _)| n.to_owned())
                .collect(),
            exports,
            compile,
        })
    }

    /// Instantiates a component once with nothing granted and reports what
    /// that cost: the start-up a user pays before every command, and the
    /// memory the component holds before doing anything.
    pub async fn measure_start(
        &self,
        plugin: &PluginId,
        wasm: &Path,
        limits: Limits,
    ) -> Result<StartUp, SandboxError> {
        let facts = self.inspect(wasm)?;
        let inner = &self.inner;
        let component = inner
            .cache
            .load_or_compile(&inner.engine, wasm, &facts.sha256)?;
        let pre = inner
            .linker_for(&component)?
            .instantiate_pre(&component)
            .map_err(|e| link_error(plugin, e))?;
        let started = std::time::Instant::now();
        let memory = if facts.micro {
            let pre = MicroPluginPre::new(pre).map_err(|e| link_error(plugin, e))?;
            let instance = MicroInstance::new(
                plugin,
                &inner.engine,
                &pre,
                &Grants::default(),
                limits,
                &Links::default(),
                false,
            )
            .await
            .map_err(|e| SandboxError::Contract {
                plugin: plugin.clone(),
                reason: format!("it does not start: {e}"),
            })?;
            instance.peak_memory_bytes()
        } else {
            let pre = PluginPre::new(pre).map_err(|e| link_error(plugin, e))?;
            let instance = PluginInstance::new(
                plugin,
                &inner.engine,
                &pre,
                &Grants::default(),
                limits,
                &Links::default(),
            )
            .await
            .map_err(|e| SandboxError::Contract {
                plugin: plugin.clone(),
                reason: format!("it does not start: {e}"),
            })?;
            instance.peak_memory_bytes()
        };
        Ok(StartUp {
            instantiate: started.elapsed(),
            memory_bytes: memory,
        })
    }

    /// Readies an installed plugin: loads its compiled code (compiling only on
    /// a cache miss), checks the contract again (grants may have changed) and
    /// pre-links it.
    pub fn prepare(
        &self,
        plugin: &PluginId,
        wasm: &Path,
        sha256: &str,
        requested: &[Permission],
    ) -> Result<Compiled, SandboxError> {
        let inner = &self.inner;
        let component = inner.cache.load_or_compile(&inner.engine, wasm, sha256)?;
        self.check(World::Plugin, plugin, &component, requested)?;
        let pre = inner
            .linker_for(&component)?
            .instantiate_pre(&component)
            .and_then(PluginPre::new)
            .map_err(|e| link_error(plugin, e))?;
        Ok(Compiled {
            plugin: plugin.clone(),
            engine: inner.engine.clone(),
            pre,
        })
    }

    /// Readies a micro-plugin component. `Limited` links the host interfaces
    /// its permissions allow; `Strict` links every import to a trap, so the
    /// component can compute and reach nothing.
    pub fn prepare_micro(
        &self,
        plugin: &PluginId,
        wasm: &Path,
        sha256: &str,
        requested: &[Permission],
        isolation: Isolation,
    ) -> Result<MicroCompiled, SandboxError> {
        let inner = &self.inner;
        let component = inner.cache.load_or_compile(&inner.engine, wasm, sha256)?;
        self.check(World::Micro, plugin, &component, requested)?;
        let instance_pre = match isolation {
            Isolation::Limited => inner.linker_for(&component)?.instantiate_pre(&component),
            Isolation::Strict => {
                let mut strict = Linker::new(&inner.engine);
                strict
                    .define_unknown_imports_as_traps(&component)
                    .and_then(|()| strict.instantiate_pre(&component))
            }
            Isolation::None => {
                return Err(SandboxError::Contract {
                    plugin: plugin.clone(),
                    reason: "isolation `none` is for native handlers, not components".into(),
                });
            }
        };
        let pre = instance_pre
            .and_then(MicroPluginPre::new)
            .map_err(|e| link_error(plugin, e))?;
        Ok(MicroCompiled {
            plugin: plugin.clone(),
            engine: inner.engine.clone(),
            pre,
            isolation,
        })
    }

    fn check(
        &self,
        world: World,
        plugin: &PluginId,
        component: &Component,
        requested: &[Permission],
    ) -> Result<ContractReport, SandboxError> {
        let engine = &self.inner.engine;
        let ty = component.component_type();
        contract::check(
            world,
            plugin,
            ty.imports(engine).map(|(name, _)| name),
            ty.exports(engine).map(|(name, _)| name),
            requested,
            &self.inner.withheld,
        )
    }
}

impl Inner {
    /// The linker for `component`: with `wasi:http` only when it imports
    /// that, so the rest never pay for linking it.
    fn linker_for(&self, component: &Component) -> Result<&Linker<StoreState>, SandboxError> {
        let imports_http = component
            .component_type()
            .imports(&self.engine)
            .any(|(name, _)| name.starts_with(crate::http::PACKAGE));
        if !imports_http {
            return Ok(&self.linker);
        }
        self.http_linker
            .get_or_init(|| {
                let mut linker = self.linker.clone();
                crate::http::link(&mut linker)
                    .map(|()| linker)
                    .map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map_err(|e| SandboxError::Engine(e.clone()))
    }
}

fn link_error(plugin: &PluginId, e: wasmtime::Error) -> SandboxError {
    SandboxError::Contract {
        plugin: plugin.clone(),
        reason: format!("it cannot be linked against this host: {e:#}"),
    }
}

/// What [`Sandbox::inspect`] read from a component.
#[derive(Debug, Clone)]
pub struct ComponentFacts {
    pub sha256: String,
    pub size_bytes: u64,
    /// Whether it exports the micro-plugin interface.
    pub micro: bool,
    /// Import names as the component spells them (`wasi:io/poll@0.2.6`).
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    /// How long Cranelift took to compile it on this machine.
    pub compile: Duration,
}

/// What one instantiation cost.
#[derive(Debug, Clone, Copy)]
pub struct StartUp {
    pub instantiate: Duration,
    /// Linear memory held right after start-up, in bytes.
    pub memory_bytes: u64,
}

/// A micro-plugin component ready to instantiate.
pub struct MicroCompiled {
    plugin: PluginId,
    engine: Engine,
    pre: MicroPluginPre<StoreState>,
    isolation: Isolation,
}

impl std::fmt::Debug for MicroCompiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicroCompiled")
            .field("plugin", &self.plugin)
            .field("isolation", &self.isolation)
            .finish_non_exhaustive()
    }
}

impl MicroCompiled {
    /// A fresh instance. A strict micro-plugin gets no grants whatever is
    /// passed (its imports are traps) and, of the links, only the host's
    /// own bookkeeping, which no import reaches: the recorder of its call
    /// figures and its plugin's per-minute quotas, so its calls are
    /// measured and counted like any other.
    pub async fn instantiate(
        &self,
        grants: &Grants,
        limits: Limits,
        links: &Links,
    ) -> Result<MicroInstance, CallError> {
        let none = (Grants::default(), bookkeeping(links));
        let (grants, links, strict) = match self.isolation {
            Isolation::Strict => (&none.0, &none.1, true),
            Isolation::Limited | Isolation::None => (grants, links, false),
        };
        MicroInstance::new(
            &self.plugin,
            &self.engine,
            &self.pre,
            grants,
            limits,
            links,
            strict,
        )
        .await
    }
}

/// The links only the host itself uses around a call.
fn bookkeeping(links: &Links) -> Links {
    let mut kept = Links::default();
    if let Some(recorder) = links.get::<lord_perf::Recorder>() {
        kept = kept.with(recorder.clone());
    }
    if let Some(quota) = links.get::<lord_state::PluginQuota>() {
        kept = kept.with(quota.clone());
    }
    kept
}

/// A plugin ready to instantiate: compiled, checked and pre-linked.
pub struct Compiled {
    plugin: PluginId,
    engine: Engine,
    pre: PluginPre<StoreState>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl Compiled {
    /// A fresh instance in its own store, with exactly `grants`, `limits`
    /// and the services in `links`.
    pub async fn instantiate(
        &self,
        grants: &Grants,
        limits: Limits,
        links: &Links,
    ) -> Result<PluginInstance, CallError> {
        PluginInstance::new(&self.plugin, &self.engine, &self.pre, grants, limits, links).await
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Component instances the pool holds at once. A CLI process runs one
/// command's plugin plus a few warm instances per micro-plugin package; an
/// embedder with more at once gets a clear instantiation error, not a crash.
const POOLED_INSTANCES: u32 = 128;

/// How much of a linear memory, and of a table, a slot keeps resident when
/// its instance goes, where the kernel can say which pages were written
/// (`PAGEMAP_SCAN`, Linux 6.7 on): those pages alone are copied back from
/// the module's image or zeroed in place. The default, `madvise` over the
/// slot, hands every written page back to the kernel, so the next instance
/// faults each one in again, and flushes the TLB of every CPU running one
/// of this process's threads. With a fresh instance per command that was
/// more than half of `Framework::run_command` (53 to 25 µs measured here).
/// A slot holds at most this much resident; pages written beyond it are
/// released as before.
const KEEP_RESIDENT_MEMORY: usize = 1 << 20;
const KEEP_RESIDENT_TABLE: usize = 256 << 10;

/// The engine's configuration. Pooled, instantiation takes memory, tables
/// and fiber stacks from slots reserved once (a fresh micro-plugin instance
/// after a trap costs a slot reset, not new mappings); each slot's memory
/// is sized for the largest budget a manifest may declare.
fn config(pooled: bool) -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(MAX_WASM_STACK + 1024 * 1024);
    if pooled {
        let max_memory = lord_manifest::Limits::MEMORY_MIB_RANGE.end() * 1024 * 1024;
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(POOLED_INSTANCES)
            // A component is several core modules (the program, its shims).
            .total_core_instances(POOLED_INSTANCES * 8)
            .total_memories(POOLED_INSTANCES)
            .total_tables(POOLED_INSTANCES * 4)
            .total_stacks(POOLED_INSTANCES)
            .max_tables_per_module(4)
            .max_memory_size(usize::try_from(max_memory).unwrap_or(usize::MAX));
        // Without the scan, keeping pages resident means clearing the whole
        // kept size on every reset, dearer than the `madvise` it saves.
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            pool.pagemap_scan(Enabled::Yes)
                .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
                .table_keep_resident(KEEP_RESIDENT_TABLE);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// Advances the engine's epoch until the engine is dropped. Holding only a
/// weak handle lets the engine go away; the thread then ends on its next tick.
fn spawn_epoch_ticker(engine: EngineWeak) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("lord-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fallback to on-demand allocation is for machines that cannot
    /// reserve the pool; here the pooled configuration itself must hold.
    #[test]
    fn the_pooled_configuration_makes_an_engine() {
        if let Err(e) = Engine::new(&config(true)) {
            panic!("the pooled engine configuration is refused: {e:#}");
        }
    }
}
