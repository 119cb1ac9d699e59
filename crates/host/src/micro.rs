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

use lord_manifest::{Isolation, MicroId, MicroSpec, PluginId};
use lord_micro::{
    Batch, BatchFailure, BoxFuture, CallContext, FailureKind, Handler, HandlerError, Membership,
    MicroManager, MicroPlugin, MicroSecurity,
};
use lord_sandbox::{
    CallError, Captured, Compiled, Denial, Failure, Grants, Limits, Links, MicroCall,
    MicroCompiled, MicroInstance, PluginInstance,
};
use lord_store::{InstalledPlugin, Store, World};
use serde_json::Value;

use crate::error::HostError;
use crate::quota::PacedFolder;
use crate::runtime::Runtime;

/// Warm instances kept per micro-plugin: enough for parallel branches on
/// two cores without holding memory for many.
const POOL: usize = 4;

/// What runs a micro handler: a micro package's component, or a full
/// plugin's `call-micro` export.
enum Source {
    Micro(MicroCompiled),
    Plugin(Arc<Compiled>),
}

/// An instance that serves micro handlers: a micro-plugin component's, or
/// a full plugin's (through its `call-micro` export).
#[derive(Debug)]
pub enum HandlerInstance {
    Micro(MicroInstance),
    Plugin(PluginInstance),
}

impl HandlerInstance {
    pub fn is_poisoned(&self) -> bool {
        match self {
            HandlerInstance::Micro(i) => i.is_poisoned(),
            HandlerInstance::Plugin(i) => i.is_poisoned(),
        }
    }

    /// Runs the handler `call` names on JSON text.
    pub async fn execute(
        &mut self,
        input: &str,
        call: &MicroCall,
    ) -> Result<(String, Captured), CallError> {
        match self {
            HandlerInstance::Micro(i) => i.execute(input, call).await,
            HandlerInstance::Plugin(i) => i.call_micro(input, call).await,
        }
    }

    /// Asks the handler `call` names whether it accepts `input`.
    pub async fn validate(&mut self, input: &str, call: &MicroCall) -> Result<Captured, CallError> {
        match self {
            HandlerInstance::Micro(i) => i.validate(input, call).await,
            HandlerInstance::Plugin(i) => i.validate_micro(input, call).await,
        }
    }

    /// Runs the handlers `table[order[..]]` in turn, each output the next
    /// input; on failure, the position that failed.
    async fn execute_each(
        &mut self,
        input: String,
        table: &[MicroCall],
        order: &[usize],
        wrote: &mut (dyn FnMut(usize, Captured) + Send),
    ) -> Result<String, (usize, CallError)> {
        match self {
            HandlerInstance::Micro(i) => i.execute_each(input, table, order, wrote).await,
            HandlerInstance::Plugin(i) => i.call_micro_each(input, table, order, wrote).await,
        }
    }

    /// The most linear memory the instance has held, in bytes.
    pub fn peak_memory_bytes(&self) -> u64 {
        match self {
            HandlerInstance::Micro(i) => i.peak_memory_bytes(),
            HandlerInstance::Plugin(i) => i.peak_memory_bytes(),
        }
    }

    /// Every distinct access the host refused this instance so far.
    pub fn denials(&self) -> Vec<Denial> {
        match self {
            HandlerInstance::Micro(i) => i.denials(),
            HandlerInstance::Plugin(i) => i.denials(),
        }
    }
}

/// Where what a micro handler wrote on a call that succeeded goes: its log
/// records and standard error, with its id, as each call ends (from
/// whichever task ran it). A host that shows a pipeline's diagnostics, as
/// `lord pipe` does, passes one to [`Framework::micro_manager_reporting`];
/// what a failed call wrote travels with its error instead
/// ([`lord_micro::MicroError::wrote`]).
///
/// [`Framework::micro_manager_reporting`]: crate::Framework::micro_manager_reporting
pub type MicroWrote = Arc<dyn Fn(&MicroId, &Captured) + Send + Sync>;

/// The micro handlers of one package that run alike (same component,
/// grants and limits). The component is prepared on first use, so
/// registering every installed micro-plugin costs nothing until a pipeline
/// calls one.
pub(crate) struct Package {
    /// The plugin whose component serves the members.
    plugin: PluginId,
    /// The members' ids, by member index.
    ids: Vec<MicroId>,
    prepare: Box<dyn Fn() -> Result<Source, HostError> + Send + Sync>,
    source: OnceLock<Result<Source, String>>,
    grants: Grants,
    links: Links,
    /// The plugin's per-minute quotas, asked before each call (and
    /// charged by the session after it).
    quota: Option<lord_state::PluginQuota>,
    /// The plugin's data folder when this class of handlers holds it,
    /// measured before calls as a command's is (at most once a second
    /// while within its quota).
    data: Option<PacedFolder>,
    limits: Limits,
    pool: Mutex<Vec<HandlerInstance>>,
    /// Each member's call context for unkeyed calls, built once.
    unkeyed: Vec<MicroCall>,
    /// Which members are declared `pure`, and where their answers are kept.
    pure: Vec<bool>,
    results: Option<Cached>,
    /// Where what a member wrote on a call that succeeded goes, if anywhere.
    wrote: Option<MicroWrote>,
    /// What the policies said of running the plugin's code, when they
    /// refuse it in any mode: applied before every call, a cached answer's
    /// included.
    policy: Option<crate::governance::StepPolicy>,
}

/// The result cache as a package with `pure` members uses it.
struct Cached {
    cache: Arc<crate::results::ResultCache>,
    base: crate::results::ResultBase,
    recorder: lord_perf::Recorder,
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

    /// Whether the policies let the plugin's code run (a `block` refuses
    /// every call; other modes are noted and let it run).
    fn governed(&self) -> Result<(), HandlerError> {
        match &self.policy {
            Some(policy) => policy
                .admit()
                .map_err(|refused| HandlerError::new(FailureKind::Denied, refused)),
            None => Ok(()),
        }
    }

    /// Whether the plugin's calls and CPU time this minute leave room for
    /// another call, and its data folder is within its quota; a refusal
    /// says which quota (and when a per-minute one resets).
    fn admit(&self) -> Result<(), HandlerError> {
        if let Some(over) = self.data.as_ref().and_then(PacedFolder::refuses) {
            return Err(HandlerError::new(FailureKind::Denied, over));
        }
        match &self.quota {
            Some(quota) => quota
                .admit()
                .map_err(|throttle| HandlerError::new(FailureKind::Denied, throttle.to_string())),
            None => Ok(()),
        }
    }

    /// A warm instance if one is free. Kept apart from `fresh` so the hot
    /// path builds no instantiation future at all.
    fn warm(&self) -> Option<HandlerInstance> {
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    async fn instance(&self) -> Result<HandlerInstance, HandlerError> {
        match self.warm() {
            Some(warm) => Ok(warm),
            None => Box::pin(self.fresh()).await,
        }
    }

    async fn fresh(&self) -> Result<HandlerInstance, HandlerError> {
        let made = match self.source().map_err(unavailable)? {
            Source::Micro(compiled) => compiled
                .instantiate(&self.grants, self.limits, &self.links)
                .await
                .map(HandlerInstance::Micro),
            Source::Plugin(compiled) => compiled
                .instantiate(&self.grants, self.limits, &self.links)
                .await
                .map(HandlerInstance::Plugin),
        };
        // Start-up code runs under the same limits as a call, so a guest
        // that traps or loops while starting fails with that kind.
        made.map_err(failure)
    }

    fn give_back(&self, instance: HandlerInstance) {
        if instance.is_poisoned() {
            return;
        }
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < POOL {
            pool.push(instance);
        }
    }

    /// Hands what member `index` wrote on a call that succeeded to the
    /// host's [`MicroWrote`], when it wrote anything and the host wants it.
    fn report(&self, index: usize, captured: &Captured) {
        if let (Some(wrote), Some(id)) = (&self.wrote, self.ids.get(index))
            && captured.has_diagnostics()
        {
            wrote(id, captured);
        }
    }

    /// Member `index`'s call context: the prebuilt one for unkeyed calls,
    /// else a new one.
    fn call(&self, index: usize, ctx: &CallContext) -> Result<Cow<'_, MicroCall>, HandlerError> {
        let missing = || unavailable(format!("no micro handler #{index} in this package"));
        match &ctx.key {
            None => self
                .unkeyed
                .get(index)
                .map(Cow::Borrowed)
                .ok_or_else(missing),
            Some(key) => self
                .ids
                .get(index)
                .map(|id| Cow::Owned(MicroCall::new(id.as_str(), Some(key))))
                .ok_or_else(missing),
        }
    }
}

/// A sandbox failure as a handler's: its kind, and the message. The
/// manager names the micro-plugin; the sandbox's failure says what happened
/// (the limit hit, the access refused, the guest's own message).
fn failure(e: CallError) -> HandlerError {
    let kind = match &e.failure {
        Failure::Returned { .. } => FailureKind::Guest,
        Failure::TimeLimit { .. } => FailureKind::TimeLimit,
        Failure::MemoryLimit { .. } => FailureKind::MemoryLimit,
        Failure::OutputLimit { .. } => FailureKind::OutputLimit,
        Failure::HandleLimit { .. } => FailureKind::HandleLimit,
        Failure::StackLimit => FailureKind::StackLimit,
        Failure::Denied { .. } => FailureKind::Denied,
        Failure::Trap { .. } | Failure::Poisoned => FailureKind::Trap,
        Failure::Setup { .. } => FailureKind::Host,
    };
    // The guest's own words stand alone; every other failure is said by
    // the sandbox (`exceeded its time limit of ...`).
    let message = if let Failure::Returned { message } = e.failure {
        message
    } else {
        e.failure.to_string()
    };
    // Its diagnostics explain a failure more often than its message: the
    // last of them travel with the error, as `lord run` shows a command's.
    let wrote = e
        .captured
        .map(|captured| captured.last_lines())
        .unwrap_or_default();
    HandlerError::new(kind, message).with_wrote(wrote)
}

/// The component could not be prepared or instantiated at all.
fn unavailable(message: String) -> HandlerError {
    HandlerError::new(FailureKind::Host, message)
}

impl Package {
    async fn run_text(
        &self,
        index: usize,
        text: &str,
        ctx: &CallContext,
    ) -> Result<String, HandlerError> {
        let call = self.call(index, ctx)?;
        self.governed()?;
        // A `pure` member's answer to this input (and routing key) may be
        // kept: then no instance is taken and no plugin code runs.
        let cached = match (&self.results, self.pure.get(index)) {
            (Some(cached), Some(true)) => {
                let id = self.ids.get(index).map_or("", MicroId::as_str);
                let entry = format!("micro:{id}:{}", ctx.key.as_deref().unwrap_or(""));
                let key = cached.base.key(&entry, text.as_bytes());
                let hit = cached
                    .cache
                    .get(&key)
                    .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok());
                cached.recorder.record_cache(
                    key.plugin(),
                    lord_perf::EntryKind::Micro,
                    id,
                    hit.is_some(),
                );
                if let Some(answer) = hit {
                    return Ok(answer);
                }
                Some((cached, key))
            }
            _ => None,
        };
        self.admit()?;
        let mut instance = self.instance().await?;
        let result = instance.execute(text, &call).await;
        self.give_back(instance);
        let (output, captured) = result.map_err(failure)?;
        self.report(index, &captured);
        if let Some((cached, key)) = cached {
            cached.cache.put(&key, output.clone().into_bytes());
        }
        Ok(output)
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
        let at_start = |e: HandlerError| BatchFailure {
            position: 0,
            kind: e.kind,
            reason: e.message,
            wrote: e.wrote,
        };
        self.governed().map_err(at_start)?;
        self.admit().map_err(at_start)?;
        let mut instance = self.instance().await.map_err(at_start)?;
        let mut wrote = |position: usize, captured: Captured| {
            if let Some(&member) = members.get(position) {
                self.report(member, &captured);
            }
        };
        let result = instance
            .execute_each(input, table, members, &mut wrote)
            .await;
        self.give_back(instance);
        result.map_err(|(position, e)| {
            let e = failure(e);
            BatchFailure {
                position,
                kind: e.kind,
                reason: e.message,
                wrote: e.wrote,
            }
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
    ) -> BoxFuture<'a, Result<Value, HandlerError>> {
        Box::pin(async move {
            let text = serde_json::to_string(&input)
                .map_err(|e| HandlerError::invalid_input(e.to_string()))?;
            let output = self.package.run_text(self.index, &text, ctx).await?;
            serde_json::from_str(&output)
                .map_err(|e| HandlerError::guest(format!("returned text that is not JSON: {e}")))
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
    ) -> BoxFuture<'a, Result<String, HandlerError>> {
        Box::pin(async move { self.package.run_text(self.index, &input, ctx).await })
    }

    fn plugin(&self) -> Option<&PluginId> {
        Some(&self.package.plugin)
    }

    fn membership(&self) -> Option<Membership> {
        // A batch runs its steps on one instance without asking the cache;
        // a package with `pure` members answers step by step instead.
        if self.package.results.is_some() {
            return None;
        }
        Some(Membership {
            batch: Arc::clone(&self.package) as Arc<dyn Batch>,
            index: self.index,
        })
    }

    fn validate<'a>(
        &'a self,
        input: &'a Value,
        ctx: &'a CallContext,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let text = serde_json::to_string(input)
                .map_err(|e| HandlerError::invalid_input(e.to_string()))?;
            let package = &self.package;
            let call = package.call(self.index, ctx)?;
            package.governed()?;
            // A validator's call is a call like any step's.
            package.admit()?;
            let mut instance = package.instance().await?;
            let result = instance.validate(&text, &call).await;
            package.give_back(instance);
            let captured = result.map_err(failure)?;
            package.report(self.index, &captured);
            Ok(())
        })
    }
}

impl crate::framework::Framework {
    /// A manager holding every micro-plugin of every enabled plugin, ready
    /// to run pipelines. A CLI may register its own native handlers on it.
    /// Once its pipelines ran, call [`Framework::judge_throttles`]: the
    /// quota refusals their steps met are recorded and judged there.
    pub fn micro_manager(&self) -> Result<lord_micro::MicroManager, HostError> {
        self.micro_manager_with(None)
    }

    /// [`Framework::micro_manager`], with what sandboxed handlers log or
    /// write to stderr on calls that succeed handed to `wrote` as each call
    /// ends, for the host to show (`lord pipe` prints it, as `lord run`
    /// prints a command's).
    pub fn micro_manager_reporting(
        &self,
        wrote: crate::MicroWrote,
    ) -> Result<lord_micro::MicroManager, HostError> {
        self.micro_manager_with(Some(&wrote))
    }

    fn micro_manager_with(
        &self,
        wrote: Option<&crate::MicroWrote>,
    ) -> Result<lord_micro::MicroManager, HostError> {
        let enabled = self.list(&crate::PluginFilter {
            state: Some(lord_store::PluginState::Enabled),
            ..crate::PluginFilter::default()
        })?;
        let manager = manager(self.runtime(), self.store(), &enabled, wrote)?;
        for provider in self.providers().enabled(self.store())? {
            for micro in provider.micro() {
                manager.register(micro).map_err(|e| HostError::Native {
                    id: provider.id(),
                    reason: e.to_string(),
                })?;
            }
        }
        Ok(manager)
    }

    /// Every micro-plugin route in force and where it comes from (a
    /// plugin's `[[routes]]`, or `None`: the configuration's
    /// `[[micro.routes]]`), in the order the manager applies them, so a
    /// later route for the same id wins.
    pub fn micro_routes(
        &self,
    ) -> Result<Vec<(Option<lord_manifest::PluginId>, lord_manifest::RouteSpec)>, HostError> {
        let enabled = self.list(&crate::PluginFilter {
            state: Some(lord_store::PluginState::Enabled),
            ..crate::PluginFilter::default()
        })?;
        let mut routes: Vec<_> = enabled
            .iter()
            .flat_map(|p| {
                let id = p.id().clone();
                p.manifest
                    .routes
                    .iter()
                    .map(move |r| (Some(id.clone()), r.clone()))
            })
            .collect();
        routes.extend(
            self.runtime()
                .micro_routes()?
                .into_iter()
                .map(|r| (None, r)),
        );
        Ok(routes)
    }
}

/// A manager holding every micro-plugin of the `enabled` plugins, ready
/// to run pipelines, and the routes they and the configuration declare.
pub(crate) fn manager(
    rt: Runtime<'_>,
    store: &Store,
    enabled: &[InstalledPlugin],
    wrote: Option<&MicroWrote>,
) -> Result<MicroManager, HostError> {
    let manager = MicroManager::new();
    for plugin in enabled {
        // Strict members hold no grant and are linked apart, so they get a
        // package (and pool) of their own.
        let (strict, limited): (Vec<&MicroSpec>, Vec<&MicroSpec>) = plugin
            .manifest
            .micro
            .iter()
            .partition(|spec| match spec.isolation {
                Isolation::Strict => true,
                Isolation::Limited | Isolation::None => false,
            });
        for (members, isolation) in [(strict, Isolation::Strict), (limited, Isolation::Limited)] {
            if members.is_empty() {
                continue;
            }
            for micro in package(rt, store, plugin, &members, isolation, wrote)? {
                manager.register(micro).map_err(|e| HostError::Mismatch {
                    plugin: plugin.id().clone(),
                    reason: e.to_string(),
                })?;
            }
        }
    }
    // A plugin's own routes (between its own handlers, checked at parse),
    // then the configured ones, which win: the user's choice over the
    // author's. A target that is not installed fails the calls routed to
    // it, which the router counts against that variant.
    for plugin in enabled {
        for route in &plugin.manifest.routes {
            let router = lord_micro::router_for(route).map_err(|e| HostError::Mismatch {
                plugin: plugin.id().clone(),
                reason: e.to_string(),
            })?;
            manager.route(route.id.clone(), router);
        }
    }
    for route in rt.micro_routes()? {
        let router =
            lord_micro::router_for(&route).map_err(|e| HostError::ConfigUnusable(e.to_string()))?;
        manager.route(route.id.clone(), router);
    }
    Ok(manager)
}

/// What a handler of `isolation` in `plugin` holds: nothing at all when
/// strict, else the package's grants, links and the permissions behind them.
fn holdings(
    rt: Runtime<'_>,
    store: &Store,
    plugin: &InstalledPlugin,
    isolation: Isolation,
) -> Result<(Grants, Links, Vec<lord_manifest::Permission>), HostError> {
    match isolation {
        // A strict handler reaches nothing: its links hold only the
        // recorder of its call figures and the counter of its plugin's
        // per-minute quotas, which no interface can reach.
        Isolation::Strict => Ok((
            Grants::default(),
            Links::default()
                .with(rt.loader().recorder().clone())
                .with(rt.quota(plugin.id())),
            Vec::new(),
        )),
        Isolation::Limited | Isolation::None => Ok((
            rt.loader().grants(plugin)?,
            rt.links(store, plugin)?,
            plugin.granted.clone(),
        )),
    }
}

/// A fresh instance serving the micro handler `micro` of `plugin`, under
/// the grants its isolation allows.
pub(crate) async fn instance_for(
    rt: Runtime<'_>,
    store: &Store,
    plugin: &InstalledPlugin,
    micro: &MicroId,
) -> Result<HandlerInstance, HostError> {
    let spec = plugin
        .manifest
        .micro
        .iter()
        .find(|m| &m.id == micro)
        .ok_or_else(|| {
            HostError::Resolve(format!(
                "`{}` declares no micro-plugin `{micro}`",
                plugin.id()
            ))
        })?;
    let (grants, links, _) = holdings(rt, store, plugin, spec.isolation)?;
    let limits = Limits::from_manifest(&plugin.manifest.limits);
    Ok(match plugin.world {
        World::Micro => HandlerInstance::Micro(
            rt.loader()
                .prepare_micro(plugin, spec.isolation)?
                .instantiate(&grants, limits, &links)
                .await?,
        ),
        World::Plugin => HandlerInstance::Plugin(
            rt.loader()
                .prepare(plugin)?
                .instantiate(&grants, limits, &links)
                .await?,
        ),
    })
}

/// The micro-plugins of one isolation class of a package, sharing one
/// [`Package`].
fn package(
    rt: Runtime<'_>,
    store: &Store,
    plugin: &InstalledPlugin,
    members: &[&MicroSpec],
    isolation: Isolation,
    wrote: Option<&MicroWrote>,
) -> Result<Vec<MicroPlugin>, HostError> {
    // A strict micro-plugin holds no grant, whatever its package holds.
    let (grants, links, allowed) = holdings(rt, store, plugin, isolation)?;
    let limits = Limits::from_manifest(&plugin.manifest.limits);
    let prepare: Box<dyn Fn() -> Result<Source, HostError> + Send + Sync> = {
        // No engine until a pipeline calls this micro-plugin: `lord micro
        // list` and `lord pipe --check` never start one.
        let sandbox = rt.loader().lazy_sandbox();
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
    let pure: Vec<bool> = members.iter().map(|spec| spec.pure).collect();
    let results = if pure.contains(&true) {
        Some(Cached {
            cache: Arc::clone(rt.loader().results()),
            base: rt.result_base(plugin)?,
            recorder: rt.loader().recorder().clone(),
        })
    } else {
        None
    };
    let policy = rt.governance().step_policy(plugin)?;
    let package = Arc::new(Package {
        policy,
        plugin: plugin.id().clone(),
        pure,
        results,
        wrote: wrote.cloned(),
        ids: members.iter().map(|spec| spec.id.clone()).collect(),
        prepare,
        source: OnceLock::new(),
        grants,
        quota: links.get::<lord_state::PluginQuota>().cloned(),
        data: match isolation {
            Isolation::Strict => None,
            Isolation::Limited | Isolation::None => rt
                .data_folder(plugin)
                .map(|folder| PacedFolder::new(folder, rt.data_refusals().clone())),
        },
        links,
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
