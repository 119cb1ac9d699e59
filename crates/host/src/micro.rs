//! Installed micro-plugins as `lord_micro` handlers: each call runs in the
//! sandbox, on a warm instance when one is free (a fresh one after any
//! failure), with the plugin's recorded grants and limits.

use std::sync::{Arc, Mutex, OnceLock};

use lord_manifest::{Isolation, MicroId, MicroSpec};
use lord_micro::{BoxFuture, CallContext, Handler, MicroManager, MicroPlugin, MicroSecurity};
use lord_sandbox::{
    CallError, Compiled, Failure, Grants, Limits, MicroCall, MicroCompiled, MicroInstance,
    PluginInstance,
};
use lord_store::{InstalledPlugin, PluginState, World};
use serde_json::Value;

use crate::error::HostError;
use crate::framework::Framework;

/// Warm instances kept per micro-plugin: enough for parallel branches on
/// two cores without holding memory for many.
const POOL: usize = 4;

/// What runs a micro handler: a micro package's component, or a full
/// plugin's `call-micro` export.
enum Source {
    Micro(MicroCompiled),
    Plugin(Arc<Compiled>),
}

enum Instance {
    Micro(MicroInstance),
    Plugin(PluginInstance),
}

impl Instance {
    fn is_poisoned(&self) -> bool {
        match self {
            Instance::Micro(i) => i.is_poisoned(),
            Instance::Plugin(i) => i.is_poisoned(),
        }
    }
}

/// A micro handler in the sandbox. The component is prepared on first use,
/// so registering every installed micro-plugin costs nothing until a
/// pipeline calls one.
pub(crate) struct SandboxedMicro {
    id: MicroId,
    prepare: Box<dyn Fn() -> Result<Source, HostError> + Send + Sync>,
    source: OnceLock<Result<Source, String>>,
    grants: Grants,
    limits: Limits,
    pool: Mutex<Vec<Instance>>,
    unkeyed: MicroCall,
}

impl SandboxedMicro {
    fn source(&self) -> Result<&Source, String> {
        self.source
            .get_or_init(|| (self.prepare)().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A warm instance if one is free. Kept apart from `fresh` so the hot
    /// path builds no instantiation future at all.
    fn warm(&self) -> Option<Instance> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    async fn instance(&self) -> Result<Instance, String> {
        match self.warm() {
            Some(warm) => Ok(warm),
            None => Box::pin(self.fresh()).await,
        }
    }

    async fn fresh(&self) -> Result<Instance, String> {
        let made = match self.source()? {
            Source::Micro(compiled) => compiled
                .instantiate(&self.grants, self.limits)
                .await
                .map(Instance::Micro),
            Source::Plugin(compiled) => compiled
                .instantiate(&self.grants, self.limits)
                .await
                .map(Instance::Plugin),
        };
        made.map_err(|e| e.to_string())
    }

    fn give_back(&self, instance: Instance) {
        if instance.is_poisoned() {
            return;
        }
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < POOL {
            pool.push(instance);
        }
    }

    /// The call context: the prebuilt one for unkeyed calls, else a new one.
    fn call(&self, ctx: &CallContext) -> std::borrow::Cow<'_, MicroCall> {
        match &ctx.key {
            None => std::borrow::Cow::Borrowed(&self.unkeyed),
            Some(key) => std::borrow::Cow::Owned(MicroCall::new(self.id.as_str(), Some(key))),
        }
    }
}

fn reason(e: CallError) -> String {
    // The manager names the micro-plugin; the sandbox's failure says what
    // happened (the limit hit, the access refused, the guest's message).
    if let Failure::Returned { message } = e.failure {
        return message;
    }
    e.failure.to_string()
}

impl SandboxedMicro {
    async fn run_text(&self, text: &str, ctx: &CallContext) -> Result<String, String> {
        let call = self.call(ctx);
        let mut instance = self.instance().await?;
        let result = match &mut instance {
            Instance::Micro(i) => i.execute(text, &call).await,
            Instance::Plugin(i) => i.call_micro(text, &call).await,
        };
        self.give_back(instance);
        result.map(|(output, _captured)| output).map_err(reason)
    }
}

impl Handler for SandboxedMicro {
    fn execute<'a>(
        &'a self,
        input: Value,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<Value, String>> {
        Box::pin(async move {
            let text = serde_json::to_string(&input).map_err(|e| e.to_string())?;
            let output = self.run_text(&text, ctx).await?;
            serde_json::from_str(&output)
                .map_err(|e| format!("returned text that is not JSON: {e}"))
        })
    }

    /// The sandbox boundary is JSON text: pipelines hand it over as is.
    fn speaks_text(&self) -> bool {
        true
    }

    fn execute_text<'a>(
        &'a self,
        input: String,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move { self.run_text(&input, ctx).await })
    }

    fn validate<'a>(
        &'a self,
        input: &'a Value,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let text = serde_json::to_string(input).map_err(|e| e.to_string())?;
            let call = self.call(ctx);
            let mut instance = self.instance().await?;
            let result = match &mut instance {
                Instance::Micro(i) => i.validate(&text, &call).await,
                Instance::Plugin(i) => i.validate_micro(&text, &call).await,
            };
            self.give_back(instance);
            result.map(drop).map_err(reason)
        })
    }
}

impl Framework {
    /// A manager holding every micro-plugin of every enabled plugin, ready
    /// to run pipelines. A CLI may register its own native handlers on it.
    pub fn micro_manager(&self) -> Result<MicroManager, HostError> {
        let manager = MicroManager::new();
        for plugin in self.list(&crate::PluginFilter {
            state: Some(PluginState::Enabled),
            ..Default::default()
        })? {
            for spec in &plugin.manifest.micro {
                manager
                    .register(self.sandboxed(&plugin, spec)?)
                    .map_err(|e| HostError::Mismatch {
                        plugin: plugin.id().clone(),
                        reason: e.to_string(),
                    })?;
            }
        }
        Ok(manager)
    }

    fn sandboxed(
        &self,
        plugin: &InstalledPlugin,
        spec: &MicroSpec,
    ) -> Result<MicroPlugin, HostError> {
        // A strict micro-plugin holds no grant, whatever its package holds.
        let (grants, allowed) = match spec.isolation {
            Isolation::Strict => (Grants::default(), Vec::new()),
            Isolation::Limited | Isolation::None => {
                (self.grants_for(plugin)?, plugin.granted.clone())
            }
        };
        let limits = Limits::from_manifest(&plugin.manifest.limits);
        let prepare: Box<dyn Fn() -> Result<Source, HostError> + Send + Sync> = {
            // No engine until a pipeline calls this micro-plugin: `lord micro
            // list` and `lord pipe --check` never start one.
            let sandbox = self.lazy_sandbox();
            let plugin = plugin.clone();
            let isolation = spec.isolation;
            Box::new(move || {
                let (id, wasm, sha) = (plugin.id(), &plugin.component, &plugin.wasm_sha256);
                let sandbox = sandbox.get()?;
                match plugin.world {
                    World::Micro => sandbox
                        .prepare_micro(id, wasm, sha, &plugin.granted, isolation)
                        .map(Source::Micro)
                        .map_err(HostError::from),
                    World::Plugin => sandbox
                        .prepare(id, wasm, sha, &plugin.granted)
                        .map(|c| Source::Plugin(Arc::new(c)))
                        .map_err(HostError::from),
                }
            })
        };
        Ok(MicroPlugin {
            id: spec.id.clone(),
            kind: spec.kind,
            description: spec.description.clone(),
            input_schema: spec.input_schema.clone(),
            output_schema: spec.output_schema.clone(),
            security: MicroSecurity {
                max_execution: limits.time,
                max_memory_bytes: limits.memory_bytes,
                allowed,
                isolation: spec.isolation,
            },
            handler: Arc::new(SandboxedMicro {
                id: spec.id.clone(),
                prepare,
                source: OnceLock::new(),
                grants,
                limits,
                pool: Mutex::new(Vec::new()),
                unkeyed: MicroCall::new(spec.id.as_str(), None),
            }),
        })
    }
}
