//! One live plugin instance: its store (WASI context, limits, output budget)
//! and the calls the host makes into it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use lord_manifest::PluginId;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::exports::lord::plugin::guest;
use crate::bindings::lord::plugin::types;
use crate::bindings::{Plugin, PluginPre};
use crate::capability::{self, Denial, DenialLog, Denials, Grants};
use crate::error::{CallError, Failure};
use crate::limits::{Limiter, Limits};
use crate::links::Links;
use crate::micro_bindings::lord::plugin::types as micro_types;
use crate::micro_bindings::{MicroPlugin, MicroPluginPre};
use crate::output::{OutputBudget, OutputExceeded};

/// Severity of a plugin's log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub level: LogLevel,
    pub message: String,
}

/// Everything a call wrote, for the host to show or keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub logs: Vec<LogRecord>,
}

/// A command invocation, already parsed against the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub command: String,
    pub args: Vec<CommandArg>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandArg {
    pub name: String,
    pub values: Vec<String>,
}

/// The data of one plugin's store.
pub(crate) struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    pub(crate) budget: OutputBudget,
    pub(crate) denials: Denials,
    /// The services its host interfaces reach (its channel scope, its
    /// messenger), as the host linked them for this instance.
    pub(crate) links: Links,
    /// When the current call must end: set by the epoch callback at the
    /// call's first tick, so a call that ends within a tick (most do) never
    /// reads the clock.
    deadline: Option<Instant>,
    /// Each call's wall-clock budget.
    time_limit: std::time::Duration,
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// One store under limits: what every kind of instance is made of. After
/// any failure other than the guest returning an error of its own, the
/// session is poisoned: wasm state after a trap is not trustworthy, so the
/// host makes a new instance instead.
pub(crate) struct Session {
    plugin: PluginId,
    store: Store<StoreState>,
    limits: Limits,
    poisoned: bool,
    /// Whether the guest can reach any host interface. A strict
    /// micro-plugin cannot (every import traps): it can neither wait in a
    /// host call, so the epoch deadline alone bounds it and its calls skip
    /// the timer, nor write output or be refused an access, so there is
    /// nothing to collect after a call.
    reaches_host: bool,
}

impl Session {
    fn denials(&self) -> Vec<Denial> {
        self.store
            .data()
            .denials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .seen()
    }

    fn peak_memory_bytes(&self) -> u64 {
        u64::try_from(self.store.data().limiter.peak_memory).unwrap_or(u64::MAX)
    }

    pub(crate) fn new(
        plugin: &PluginId,
        engine: &Engine,
        grants: &Grants,
        limits: Limits,
        links: &Links,
    ) -> Result<Self, CallError> {
        let budget = OutputBudget::new(limits.output_bytes);
        let denials: Denials = Arc::new(Mutex::new(DenialLog::default()));
        let wasi = capability::build_wasi(grants, &budget, &denials)
            .map_err(|message| CallError::new(plugin, Failure::Setup { message }))?;
        let state = StoreState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(&limits),
            budget,
            denials,
            links: links.clone(),
            deadline: None,
            time_limit: limits.time,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.limiter);
        // One wall-clock budget: the epoch callback compares real time with
        // the deadline at every tick, so guest code stops on time however its
        // time is spent; host calls that block are covered by the timeout
        // around each call. The first tick of a call comes at most one tick
        // after it began, so a deadline set then is never early and at most
        // one tick late.
        store.epoch_deadline_callback(|mut ctx| {
            let now = Instant::now();
            let state = ctx.data_mut();
            match state.deadline {
                None => {
                    state.deadline = Some(now + state.time_limit);
                    Ok(UpdateDeadline::Continue(1))
                }
                Some(deadline) if now >= deadline => Ok(UpdateDeadline::Interrupt),
                Some(_) => Ok(UpdateDeadline::Continue(1)),
            }
        });
        store.set_epoch_deadline(1);
        Ok(Self {
            plugin: plugin.clone(),
            store,
            limits,
            poisoned: false,
            reaches_host: true,
        })
    }

    /// Instantiates under the limits (instantiation runs guest start code).
    pub(crate) async fn instantiate<B>(
        &mut self,
        instantiate: impl AsyncFnOnce(&mut Store<StoreState>) -> wasmtime::Result<B>,
    ) -> Result<B, CallError> {
        let bindings = run_guarded(&mut self.store, self.limits, true, instantiate)
            .await
            .map_err(|failure| CallError::new(&self.plugin, failure))?;
        // Whatever start-up code printed belongs to no call.
        self.store.data().budget.take();
        Ok(bindings)
    }

    /// Runs one guest call under the limits and turns every way it can end
    /// into a typed result. `Returned` keeps the session usable; any other
    /// failure poisons it.
    pub(crate) async fn call<T>(
        &mut self,
        call: impl AsyncFnOnce(&mut Store<StoreState>) -> wasmtime::Result<GuestResult<T>>,
    ) -> Result<(T, Captured), CallError> {
        if self.poisoned {
            return Err(CallError::new(&self.plugin, Failure::Poisoned));
        }
        // `run_guarded` inlined by hand: this is the hot path, and one
        // less future level is one less move of the whole call's state.
        let limits = self.limits;
        arm(&mut self.store);
        let outcome = if self.reaches_host {
            match tokio::time::timeout(limits.time, call(&mut self.store)).await {
                Ok(outcome) => outcome.map_err(|error| classify(self.store.data(), &error, limits)),
                Err(_elapsed) => Err(Failure::TimeLimit { limit: limits.time }),
            }
        } else {
            call(&mut self.store)
                .await
                .map_err(|error| classify(self.store.data(), &error, limits))
        };
        let (captured, denied) = if self.reaches_host {
            (
                self.store.data().budget.take(),
                take_denial(self.store.data()),
            )
        } else {
            (Captured::default(), None)
        };
        match outcome {
            Ok(Ok(value)) => Ok((value, captured)),
            Ok(Err(message)) => Err(CallError::new(
                &self.plugin,
                match denied {
                    // A guest that was refused usually reports a generic I/O
                    // error; the host knows exactly what was refused.
                    Some(access) => Failure::Denied { access },
                    None => Failure::Returned { message },
                },
            )),
            Err(mut failure) => {
                self.poisoned = true;
                if let Failure::Trap { message } = &mut failure {
                    *message = with_panic_message(std::mem::take(message), &captured);
                }
                Err(CallError::new(&self.plugin, failure))
            }
        }
    }
}

/// The guest's answer to a call that completed.
type GuestResult<T> = Result<T, String>;

/// A full plugin's instance: lifecycle hooks, commands and micro handlers.
pub struct PluginInstance {
    session: Session,
    bindings: Plugin,
}

impl std::fmt::Debug for PluginInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginInstance")
            .field("plugin", &self.session.plugin)
            .field("limits", &self.session.limits)
            .field("poisoned", &self.session.poisoned)
            .finish_non_exhaustive()
    }
}

impl PluginInstance {
    pub(crate) async fn new(
        plugin: &PluginId,
        engine: &Engine,
        pre: &PluginPre<StoreState>,
        grants: &Grants,
        limits: Limits,
        links: &Links,
    ) -> Result<Self, CallError> {
        let mut session = Session::new(plugin, engine, grants, limits, links)?;
        let bindings = session
            .instantiate(async |store| pre.instantiate_async(store).await)
            .await?;
        Ok(Self { session, bindings })
    }

    pub fn plugin(&self) -> &PluginId {
        &self.session.plugin
    }

    pub fn is_poisoned(&self) -> bool {
        self.session.poisoned
    }

    /// Every distinct access the host refused this instance so far.
    pub fn denials(&self) -> Vec<Denial> {
        self.session.denials()
    }

    /// The most linear memory this instance has held, in bytes.
    pub fn peak_memory_bytes(&self) -> u64 {
        self.session.peak_memory_bytes()
    }

    pub async fn on_load(&mut self) -> Result<Captured, CallError> {
        let guest = self.bindings.lord_plugin_guest();
        self.session
            .call(async |s| guest.call_on_load(s).await)
            .await
            .map(|((), c)| c)
    }

    pub async fn on_enable(&mut self) -> Result<Captured, CallError> {
        let guest = self.bindings.lord_plugin_guest();
        self.session
            .call(async |s| guest.call_on_enable(s).await)
            .await
            .map(|((), c)| c)
    }

    pub async fn on_disable(&mut self) -> Result<Captured, CallError> {
        let guest = self.bindings.lord_plugin_guest();
        self.session
            .call(async |s| guest.call_on_disable(s).await)
            .await
            .map(|((), c)| c)
    }

    pub async fn on_unload(&mut self) -> Result<Captured, CallError> {
        let guest = self.bindings.lord_plugin_guest();
        self.session
            .call(async |s| guest.call_on_unload(s).await)
            .await
            .map(|((), c)| c)
    }

    /// Tells the plugin about a failure; the hook's own failure is returned
    /// but has no further consequence.
    pub async fn on_error(&mut self, message: &str) -> Result<Captured, CallError> {
        let guest = self.bindings.lord_plugin_guest();
        self.session
            .call(async |s| guest.call_on_error(s, message).await.map(Ok))
            .await
            .map(|((), c)| c)
    }

    /// Runs a declared command; the text is what the plugin returned for the
    /// user's standard output.
    pub async fn run_command(
        &mut self,
        invocation: &Invocation,
    ) -> Result<(String, Captured), CallError> {
        let wire = guest::Invocation {
            command: invocation.command.clone(),
            args: invocation
                .args
                .iter()
                .map(|a| types::Arg {
                    name: a.name.clone(),
                    values: a.values.clone(),
                })
                .collect(),
        };
        let guest = self.bindings.lord_plugin_guest();
        let (text, captured) = self
            .session
            .call(async |s| guest.call_run_command(s, &wire).await)
            .await?;
        self.session.check_returned_output(text, captured)
    }

    /// Runs one of the plugin's declared micro handlers on JSON text.
    pub async fn call_micro(
        &mut self,
        input: &str,
        call: &MicroCall,
    ) -> Result<(String, Captured), CallError> {
        let ctx = call.to_wire();
        let guest = self.bindings.lord_plugin_guest();
        let (text, captured) = self
            .session
            .call(async |s| guest.call_call_micro(s, input, ctx).await)
            .await?;
        self.session.check_returned_output(text, captured)
    }

    /// Runs several of the plugin's micro handlers in turn, as
    /// [`MicroInstance::execute_each`] does.
    pub async fn call_micro_each(
        &mut self,
        input: String,
        table: &[MicroCall],
        order: &[usize],
    ) -> Result<String, (usize, CallError)> {
        let mut text = input;
        for (position, &index) in order.iter().enumerate() {
            let call = lookup(&self.session, table, index).map_err(|e| (position, e))?;
            text = self
                .call_micro(&text, call)
                .await
                .map_err(|e| (position, e))?
                .0;
        }
        Ok(text)
    }

    /// Delivers one event to the plugin's `handle-event`.
    pub async fn handle_event(&mut self, event: &lord_state::Event) -> Result<Captured, CallError> {
        let wire = types::Event {
            topic: event.topic.clone(),
            source: event.source.clone(),
            payload: event.payload.to_string(),
            at_ms: event.at_ms,
        };
        let guest = self.bindings.lord_plugin_guest();
        self.session
            .call(async |s| guest.call_handle_event(s, &wire).await)
            .await
            .map(|((), c)| c)
    }

    /// Answers a request from plugin `sender` through `handle-message`.
    pub async fn handle_message(
        &mut self,
        sender: &str,
        payload: &str,
    ) -> Result<(String, Captured), CallError> {
        let guest = self.bindings.lord_plugin_guest();
        let (reply, captured) = self
            .session
            .call(async |s| guest.call_handle_message(s, sender, payload).await)
            .await?;
        self.session.check_returned_output(reply, captured)
    }

    /// Asks one of the plugin's micro handlers whether it accepts `input`.
    pub async fn validate_micro(
        &mut self,
        input: &str,
        call: &MicroCall,
    ) -> Result<Captured, CallError> {
        let ctx = call.to_wire();
        let guest = self.bindings.lord_plugin_guest();
        self.session
            .call(async |s| guest.call_validate_micro(s, input, ctx).await)
            .await
            .map(|((), c)| c)
    }
}

/// Entry `index` of a caller's table of call contexts.
fn lookup<'t>(
    session: &Session,
    table: &'t [MicroCall],
    index: usize,
) -> Result<&'t MicroCall, CallError> {
    table.get(index).ok_or_else(|| {
        CallError::new(
            &session.plugin,
            Failure::Setup {
                message: format!("no micro handler #{index} in the call table"),
            },
        )
    })
}

/// Which micro handler a call is for, and the caller's routing key, built
/// once in the shapes both worlds take, so a caller that reuses one pays
/// no allocation per call.
#[derive(Debug, Clone)]
pub struct MicroCall {
    plugin_ctx: types::MicroContext,
    micro_ctx: micro_types::MicroContext,
}

impl MicroCall {
    pub fn new(id: &str, key: Option<&str>) -> Self {
        Self {
            plugin_ctx: types::MicroContext {
                id: id.to_owned(),
                key: key.map(str::to_owned),
            },
            micro_ctx: micro_types::MicroContext {
                id: id.to_owned(),
                key: key.map(str::to_owned),
            },
        }
    }

    fn to_wire(&self) -> &types::MicroContext {
        &self.plugin_ctx
    }

    fn to_micro_wire(&self) -> &micro_types::MicroContext {
        &self.micro_ctx
    }
}

/// A micro-plugin component's instance (world `micro-plugin`).
pub struct MicroInstance {
    session: Session,
    bindings: MicroPlugin,
}

impl std::fmt::Debug for MicroInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicroInstance")
            .field("plugin", &self.session.plugin)
            .field("poisoned", &self.session.poisoned)
            .finish_non_exhaustive()
    }
}

impl MicroInstance {
    pub(crate) async fn new(
        plugin: &PluginId,
        engine: &Engine,
        pre: &MicroPluginPre<StoreState>,
        grants: &Grants,
        limits: Limits,
        links: &Links,
        strict: bool,
    ) -> Result<Self, CallError> {
        let mut session = Session::new(plugin, engine, grants, limits, links)?;
        session.reaches_host = !strict;
        let bindings = session
            .instantiate(async |store| pre.instantiate_async(store).await)
            .await?;
        Ok(Self { session, bindings })
    }

    pub fn is_poisoned(&self) -> bool {
        self.session.poisoned
    }

    /// Every distinct access the host refused this instance so far.
    pub fn denials(&self) -> Vec<Denial> {
        self.session.denials()
    }

    /// The most linear memory this instance has held, in bytes.
    pub fn peak_memory_bytes(&self) -> u64 {
        self.session.peak_memory_bytes()
    }

    /// Runs the handler on JSON text and returns JSON text.
    pub async fn execute(
        &mut self,
        input: &str,
        call: &MicroCall,
    ) -> Result<(String, Captured), CallError> {
        let ctx = call.to_micro_wire();
        let micro = self.bindings.lord_plugin_micro();
        let (text, captured) = self
            .session
            .call(async |s| micro.call_execute(s, input, ctx).await)
            .await?;
        self.session.check_returned_output(text, captured)
    }

    /// Runs several handlers in turn on this instance, each output the next
    /// input. Each is its own guest call under its own deadline and output
    /// budget; the first failure stops the run and says at which position.
    /// The calls are `table[order[0]]`, `table[order[1]]`, ... so a caller
    /// with prebuilt contexts passes them without building a list per run.
    pub async fn execute_each(
        &mut self,
        input: String,
        table: &[MicroCall],
        order: &[usize],
    ) -> Result<String, (usize, CallError)> {
        let micro = self.bindings.lord_plugin_micro();
        let mut text = input;
        for (position, &index) in order.iter().enumerate() {
            let ctx = lookup(&self.session, table, index).map_err(|e| (position, e))?;
            let (output, captured) = self
                .session
                .call(async |s| micro.call_execute(s, &text, ctx.to_micro_wire()).await)
                .await
                .map_err(|e| (position, e))?;
            self.session
                .check_output_size(&output, &captured)
                .map_err(|e| (position, e))?;
            text = output;
        }
        Ok(text)
    }

    /// Asks the handler whether it accepts `input`.
    pub async fn validate(&mut self, input: &str, call: &MicroCall) -> Result<Captured, CallError> {
        let ctx = call.to_micro_wire();
        let micro = self.bindings.lord_plugin_micro();
        self.session
            .call(async |s| micro.call_validate(s, input, ctx).await)
            .await
            .map(|((), c)| c)
    }
}

impl Session {
    /// The returned text counts against the same output budget as
    /// everything else the plugin writes.
    fn check_returned_output(
        &self,
        text: String,
        captured: Captured,
    ) -> Result<(String, Captured), CallError> {
        self.check_output_size(&text, &captured)?;
        Ok((text, captured))
    }

    /// The check alone, for callers that keep the values where they are.
    fn check_output_size(&self, text: &str, captured: &Captured) -> Result<(), CallError> {
        let limit = self.limits.output_bytes;
        let total = text.len() + captured.stdout.len() + captured.stderr.len();
        if u64::try_from(total).unwrap_or(u64::MAX) > limit {
            return Err(CallError::new(
                &self.plugin,
                Failure::OutputLimit { limit_bytes: limit },
            ));
        }
        Ok(())
    }
}

/// Starts the call's clock: the deadline itself is set at the next tick.
fn arm(store: &mut Store<StoreState>) {
    store.data_mut().deadline = None;
    store.set_epoch_deadline(1);
}

/// Runs `call` with the deadline armed, and classifies how it ended.
async fn run_guarded<R>(
    store: &mut Store<StoreState>,
    limits: Limits,
    host_waits: bool,
    call: impl AsyncFnOnce(&mut Store<StoreState>) -> wasmtime::Result<R>,
) -> Result<R, Failure> {
    arm(store);
    // The timeout covers host calls that wait (sleeps, sockets): while the
    // guest computes, the epoch callback stops it; while the host waits on
    // its behalf, this timer does. A guest that cannot wait in the host
    // needs only the epoch.
    let outcome = if host_waits {
        match tokio::time::timeout(limits.time, call(store)).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => return Err(Failure::TimeLimit { limit: limits.time }),
        }
    } else {
        call(store).await
    };
    outcome.map_err(|error| classify(store.data(), &error, limits))
}

fn classify(state: &StoreState, error: &wasmtime::Error, limits: Limits) -> Failure {
    if error.downcast_ref::<OutputExceeded>().is_some() || state.budget.exceeded() {
        return Failure::OutputLimit {
            limit_bytes: state.budget.limit(),
        };
    }
    if state.limiter.memory_refused {
        return Failure::MemoryLimit {
            limit_bytes: limits.memory_bytes,
        };
    }
    let trap = error.downcast_ref::<Trap>();
    if trap == Some(&Trap::Interrupt) {
        return Failure::TimeLimit { limit: limits.time };
    }
    if trap == Some(&Trap::StackOverflow) {
        return Failure::StackLimit;
    }
    if let Some(access) = peek_denial(state) {
        return Failure::Denied { access };
    }
    // A strict micro-plugin's imports are all linked to wasmtime's
    // unknown-import traps; reaching one is a refused access, not a crash.
    let root = error.root_cause().to_string();
    if let Some(rest) = root.strip_prefix("unknown import: `")
        && let Some((import, _)) = rest.split_once('`')
    {
        return Failure::Denied {
            access: format!("host interface `{import}` (strict isolation links none)"),
        };
    }
    // The trap code is what a user can act on; the full chain (with a wasm
    // backtrace) stays out of the one-line message.
    let message = match trap {
        Some(trap) => trap.to_string(),
        None => error.root_cause().to_string(),
    };
    Failure::Trap { message }
}

fn peek_denial(state: &StoreState) -> Option<String> {
    state
        .denials
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .peek()
}

fn take_denial(state: &StoreState) -> Option<String> {
    state
        .denials
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
}

/// A Rust guest that panics prints the panic message to stderr and then
/// traps; the message is what a user needs to see.
fn with_panic_message(trap: String, captured: &Captured) -> String {
    let stderr = String::from_utf8_lossy(&captured.stderr);
    match stderr.lines().find(|line| line.contains("panicked at")) {
        Some(line) => {
            let detail = stderr
                .lines()
                .skip_while(|l| !l.contains("panicked at"))
                .nth(1)
                .unwrap_or("");
            format!("{} {} ({trap})", line.trim(), detail.trim())
        }
        None => trap,
    }
}
