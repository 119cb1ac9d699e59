//! Installed micro-plugins as `lord_micro` handlers: each call runs in the
//! sandbox, on a warm instance when one is free (a fresh one after any
//! failure), with the plugin's recorded grants and limits.
//!
//! The micro handlers of one package with one isolation class share a
//! component, grants and limits, so they share one pool of instances: a
//! [`Package`], which is also the [`Batch`] that runs neighbouring steps of
//! a pipeline on one checked-out instance.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};

use lord_manifest::{Isolation, MicroId, MicroSpec};
use lord_micro::{
    Batch, BatchFailure, BoxFuture, CallContext, Handler, Membership, MicroManager, MicroPlugin,
    MicroSecurity,
};
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

/// The micro handlers of one package that run alike (same component,
/// grants and limits). The component is prepared on first use, so
/// registering every installed micro-plugin costs nothing until a pipeline
/// calls one.
pub(crate) struct Package {
    /// The members' ids, by member index.
    ids: Vec<MicroId>,
    prepare: Box<dyn Fn() -> Result<Source, HostError> + Send + Sync>,
    source: OnceLock<Result<Source, String>>,
    grants: Grants,
    limits: Limits,
    pool: Mutex<Vec<Instance>>,
    /// Each member's call context for unkeyed calls, built once.
    unkeyed: Vec<MicroCall>,
}

/// One micro handler: a member of its package.
pub(crate) struct SandboxedMicro {
    package: Arc<Package>,
    index: usize,
}

impl Package {
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

    /// Member `index`'s call context: the prebuilt one for unkeyed calls,
    /// else a new one.
    fn call(&self, index: usize, ctx: &CallContext) -> Result<Cow<'_, MicroCall>, String> {
        match &ctx.key {
            None => self
                .unkeyed
                .get(index)
                .map(Cow::Borrowed)
                .ok_or_else(|| format!("no micro handler #{index} in this package")),
            Some(key) => self
                .ids
                .get(index)
                .map(|id| Cow::Owned(MicroCall::new(id.as_str(), Some(key))))
                .ok_or_else(|| format!("no micro handler #{index} in this package")),
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

impl Package {
    async fn run_text(
        &self,
        index: usize,
        text: &str,
        ctx: &CallContext,
    ) -> Result<String, String> {
        let call = self.call(index, ctx)?;
        let mut instance = self.instance().await?;
        let result = match &mut instance {
            Instance::Micro(i) => i.execute(text, &call).await,
            Instance::Plugin(i) => i.call_micro(text, &call).await,
        };
        self.give_back(instance);
        result.map(|(output, _captured)| output).map_err(reason)
    }

    async fn run_members(
        &self,
        members: &[usize],
        input: String,
        ctx: &CallContext,
    ) -> Result<String, BatchFailure> {
        // Unkeyed runs use the prebuilt contexts; keyed ones build a table.
        let keyed: Vec<MicroCall>;
        let table = match &ctx.key {
            None => self.unkeyed.as_slice(),
            Some(key) => {
                keyed = self
                    .ids
                    .iter()
                    .map(|id| MicroCall::new(id.as_str(), Some(key)))
                    .collect();
                keyed.as_slice()
            }
        };
        let mut instance = self.instance().await.map_err(|reason| BatchFailure {
            position: 0,
            reason,
        })?;
        let result = match &mut instance {
            Instance::Micro(i) => i.execute_each(input, table, members).await,
            Instance::Plugin(i) => i.call_micro_each(input, table, members).await,
        };
        self.give_back(instance);
        result.map_err(|(position, e)| BatchFailure {
            position,
            reason: reason(e),
        })
    }
}

impl Batch for Package {
    fn run_text<'a>(
        &'a self,
        members: &'a [usize],
        input: String,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<String, BatchFailure>> {
        Box::pin(self.run_members(members, input, ctx))
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
            let output = self.package.run_text(self.index, &text, ctx).await?;
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
        Box::pin(async move { self.package.run_text(self.index, &input, ctx).await })
    }

    fn membership(&self) -> Option<Membership> {
        Some(Membership {
            batch: Arc::clone(&self.package) as Arc<dyn Batch>,
            index: self.index,
        })
    }

    fn validate<'a>(
        &'a self,
        input: &'a Value,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let text = serde_json::to_string(input).map_err(|e| e.to_string())?;
            let package = &self.package;
            let call = package.call(self.index, ctx)?;
            let mut instance = package.instance().await?;
            let result = match &mut instance {
                Instance::Micro(i) => i.validate(&text, &call).await,
                Instance::Plugin(i) => i.validate_micro(&text, &call).await,
            };
            package.give_back(instance);
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
            // Strict members hold no grant and are linked apart, so they
            // get a package (and pool) of their own.
            let (strict, limited): (Vec<&MicroSpec>, Vec<&MicroSpec>) = plugin
                .manifest
                .micro
                .iter()
                .partition(|spec| match spec.isolation {
                    Isolation::Strict => true,
                    Isolation::Limited | Isolation::None => false,
                });
            for (members, isolation) in [(strict, Isolation::Strict), (limited, Isolation::Limited)]
            {
                if members.is_empty() {
                    continue;
                }
                for micro in self.package(&plugin, &members, isolation)? {
                    manager.register(micro).map_err(|e| HostError::Mismatch {
                        plugin: plugin.id().clone(),
                        reason: e.to_string(),
                    })?;
                }
            }
        }
        Ok(manager)
    }

    /// The micro-plugins of one isolation class of a package, sharing one
    /// [`Package`].
    fn package(
        &self,
        plugin: &InstalledPlugin,
        members: &[&MicroSpec],
        isolation: Isolation,
    ) -> Result<Vec<MicroPlugin>, HostError> {
        // A strict micro-plugin holds no grant, whatever its package holds.
        let (grants, allowed) = match isolation {
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
        let package = Arc::new(Package {
            ids: members.iter().map(|spec| spec.id.clone()).collect(),
            prepare,
            source: OnceLock::new(),
            grants,
            limits,
            pool: Mutex::new(Vec::new()),
            unkeyed: members
                .iter()
                .map(|spec| MicroCall::new(spec.id.as_str(), None))
                .collect(),
        });
        Ok(members
            .iter()
            .enumerate()
            .map(|(index, spec)| MicroPlugin {
                id: spec.id.clone(),
                kind: spec.kind,
                description: spec.description.clone(),
                input_schema: spec.input_schema.clone(),
                output_schema: spec.output_schema.clone(),
                security: MicroSecurity {
                    max_execution: limits.time,
                    max_memory_bytes: limits.memory_bytes,
                    allowed: allowed.clone(),
                    isolation: spec.isolation,
                },
                handler: Arc::new(SandboxedMicro {
                    package: Arc::clone(&package),
                    index,
                }),
            })
            .collect())
    }
}
