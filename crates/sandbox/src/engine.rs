//! The engine: one per process, with its linker, epoch ticker and compiled
//! cache, and the per-plugin `InstancePre` it produces.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lord_manifest::{Permission, PluginId};
use sha2::{Digest, Sha256};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, EngineWeak};

use crate::bindings::{Plugin, PluginPre};
use crate::cache::CompiledCache;
use crate::capability::Grants;
use crate::contract::{self, ContractReport};
use crate::error::{CallError, SandboxError};
use crate::instance::{PluginInstance, StoreState};
use crate::limits::Limits;

/// How often the epoch advances. The deadline check runs once per tick, so
/// this is the granularity of the time limit; a tick costs one atomic
/// increment on a background thread.
const EPOCH_TICK: Duration = Duration::from_millis(1);

/// The wasm stack cap, engine-wide. Deep recursion traps here instead of
/// overflowing the host's stack.
const MAX_WASM_STACK: usize = 1024 * 1024;

/// The sandbox: a wasmtime engine configured for untrusted code.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<StoreState>,
    cache: CompiledCache,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Starts the engine, with its compiled cache under `cache_root`.
    pub fn new(cache_root: &Path) -> Result<Self, SandboxError> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(MAX_WASM_STACK)
            .async_stack_size(MAX_WASM_STACK + 1024 * 1024);
        let engine = Engine::new(&config).map_err(|e| SandboxError::Engine(format!("{e:#}")))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| SandboxError::Engine(format!("{e:#}")))?;
        Plugin::add_to_linker::<_, HasSelf<StoreState>>(&mut linker, |state| state)
            .map_err(|e| SandboxError::Engine(format!("{e:#}")))?;

        let cache = CompiledCache::open(cache_root, &engine)?;
        spawn_epoch_ticker(engine.weak())
            .map_err(|e| SandboxError::Engine(format!("could not start the epoch ticker: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
            }),
        })
    }

    /// Compiles a component that is being installed: checks it against the
    /// contract and the requested permissions and fills the compiled cache.
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
        let compiled = self.prepare(plugin, wasm, &sha256, requested)?;
        Ok((sha256, compiled.report))
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
        let ty = component.component_type();
        let report = contract::check(
            plugin,
            ty.imports(&inner.engine).map(|(name, _)| name),
            ty.exports(&inner.engine).map(|(name, _)| name),
            requested,
        )?;
        let pre = inner
            .linker
            .instantiate_pre(&component)
            .and_then(PluginPre::new)
            .map_err(|e| SandboxError::Contract {
                plugin: plugin.clone(),
                reason: format!("it cannot be linked against this host: {e:#}"),
            })?;
        Ok(Compiled {
            plugin: plugin.clone(),
            engine: inner.engine.clone(),
            pre,
            report,
        })
    }
}

/// A plugin ready to instantiate: compiled, checked and pre-linked.
pub struct Compiled {
    plugin: PluginId,
    engine: Engine,
    pre: PluginPre<StoreState>,
    report: ContractReport,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("plugin", &self.plugin)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl Compiled {
    pub fn plugin(&self) -> &PluginId {
        &self.plugin
    }

    pub fn report(&self) -> &ContractReport {
        &self.report
    }

    /// A fresh instance in its own store, with exactly `grants` and `limits`.
    pub async fn instantiate(
        &self,
        grants: &Grants,
        limits: Limits,
    ) -> Result<PluginInstance, CallError> {
        PluginInstance::new(&self.plugin, &self.engine, &self.pre, grants, limits).await
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
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
