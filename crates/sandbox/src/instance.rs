//! One live plugin instance: its store (WASI context, limits, output budget)
//! and the calls the host makes into it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use lord_manifest::PluginId;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::exports::lord::plugin::guest;
use crate::bindings::lord::plugin::{log, types};
use crate::bindings::{Plugin, PluginPre};
use crate::capability::{self, Denials, Grants};
use crate::error::{CallError, Failure};
use crate::limits::{Limiter, Limits};
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
    budget: OutputBudget,
    denials: Denials,
    /// When the current call must end; read by the epoch callback.
    deadline: Instant,
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for StoreState {}

impl log::Host for StoreState {
    fn log(&mut self, level: types::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            types::Level::Trace => LogLevel::Trace,
            types::Level::Debug => LogLevel::Debug,
            types::Level::Info => LogLevel::Info,
            types::Level::Warn => LogLevel::Warn,
            types::Level::Error => LogLevel::Error,
        };
        self.budget
            .push_log(level, message)
            .map_err(wasmtime::Error::new)
    }
}

/// A plugin instance. After any failure other than the guest returning an
/// error of its own, the instance is poisoned: wasm state after a trap is not
/// trustworthy, so the host makes a new instance instead.
pub struct PluginInstance {
    plugin: PluginId,
    store: Store<StoreState>,
    bindings: Plugin,
    limits: Limits,
    poisoned: bool,
}

impl std::fmt::Debug for PluginInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginInstance")
            .field("plugin", &self.plugin)
            .field("limits", &self.limits)
            .field("poisoned", &self.poisoned)
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
    ) -> Result<Self, CallError> {
        let budget = OutputBudget::new(limits.output_bytes);
        let denials: Denials = Arc::new(Mutex::new(Vec::new()));
        let wasi = capability::build_wasi(grants, &budget, &denials)
            .map_err(|message| CallError::new(plugin, Failure::Setup { message }))?;
        let state = StoreState {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(&limits),
            budget,
            denials,
            deadline: Instant::now() + limits.time,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.limiter);
        // One wall-clock budget: the epoch callback compares real time with
        // the deadline at every tick, so guest code stops on time however its
        // time is spent; host calls that block are covered by the timeout
        // around each call.
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });
        store.set_epoch_deadline(1);

        let bindings = run_guarded(&mut store, limits, async |store| {
            pre.instantiate_async(store).await
        })
        .await
        .map_err(|failure| CallError::new(plugin, failure))?;
        // Whatever start-up code printed belongs to no call.
        store.data().budget.take();
        Ok(Self {
            plugin: plugin.clone(),
            store,
            bindings,
            limits,
            poisoned: false,
        })
    }

    pub fn plugin(&self) -> &PluginId {
        &self.plugin
    }

    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Output written so far and not yet taken (e.g. by a failed call).
    pub fn take_output(&mut self) -> Captured {
        self.store.data().budget.take()
    }
}

/// The guest's answer to a call that completed.
type GuestResult<T> = Result<T, String>;

impl PluginInstance {
    /// Runs one guest call under the limits and turns every way it can end
    /// into a typed result. `Returned` keeps the instance usable; any other
    /// failure poisons it.
    async fn call<T>(
        &mut self,
        call: impl AsyncFnOnce(
            &guest::Guest,
            &mut Store<StoreState>,
        ) -> wasmtime::Result<GuestResult<T>>,
    ) -> Result<(T, Captured), CallError> {
        if self.poisoned {
            return Err(CallError::new(&self.plugin, Failure::Poisoned));
        }
        let guest = self.bindings.lord_plugin_guest();
        let outcome = run_guarded(&mut self.store, self.limits, async |store| {
            call(guest, store).await
        })
        .await;
        let captured = self.store.data().budget.take();
        let denied = take_denial(self.store.data());
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

    pub async fn on_load(&mut self) -> Result<Captured, CallError> {
        self.call(async |g, s| g.call_on_load(s).await)
            .await
            .map(|((), c)| c)
    }

    pub async fn on_enable(&mut self) -> Result<Captured, CallError> {
        self.call(async |g, s| g.call_on_enable(s).await)
            .await
            .map(|((), c)| c)
    }

    pub async fn on_disable(&mut self) -> Result<Captured, CallError> {
        self.call(async |g, s| g.call_on_disable(s).await)
            .await
            .map(|((), c)| c)
    }

    pub async fn on_unload(&mut self) -> Result<Captured, CallError> {
        self.call(async |g, s| g.call_on_unload(s).await)
            .await
            .map(|((), c)| c)
    }

    /// Tells the plugin about a failure; the hook's own failure is returned
    /// but has no further consequence.
    pub async fn on_error(&mut self, message: &str) -> Result<Captured, CallError> {
        self.call(async |g, s| g.call_on_error(s, message).await.map(Ok))
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
        let output_limit = self.limits.output_bytes;
        let (text, captured) = self
            .call(async |g, s| g.call_run_command(s, &wire).await)
            .await?;
        // The returned text counts against the same output budget as
        // everything else the plugin writes.
        let total = text.len() + captured.stdout.len() + captured.stderr.len();
        if u64::try_from(total).unwrap_or(u64::MAX) > output_limit {
            return Err(CallError::new(
                &self.plugin,
                Failure::OutputLimit {
                    limit_bytes: output_limit,
                },
            ));
        }
        Ok((text, captured))
    }
}

/// Runs `call` with the deadline armed, and classifies how it ended.
async fn run_guarded<R>(
    store: &mut Store<StoreState>,
    limits: Limits,
    call: impl AsyncFnOnce(&mut Store<StoreState>) -> wasmtime::Result<R>,
) -> Result<R, Failure> {
    store.data_mut().deadline = Instant::now() + limits.time;
    store.set_epoch_deadline(1);
    // The timeout covers host calls that wait (sleeps, sockets): while the
    // guest computes, the epoch callback stops it; while the host waits on
    // its behalf, this timer does.
    match tokio::time::timeout(limits.time, call(store)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(classify(store.data(), &error, limits)),
        Err(_elapsed) => Err(Failure::TimeLimit { limit: limits.time }),
    }
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
    // The trap code is what a user can act on; the full chain (with a wasm
    // backtrace) stays out of the one-line message.
    let message = match trap {
        Some(trap) => trap.to_string(),
        None => error.root_cause().to_string(),
    };
    Failure::Trap { message }
}

fn peek_denial(state: &StoreState) -> Option<String> {
    let denials = state.denials.lock().unwrap_or_else(|p| p.into_inner());
    denials.first().cloned()
}

fn take_denial(state: &StoreState) -> Option<String> {
    let mut denials = state.denials.lock().unwrap_or_else(|p| p.into_inner());
    let first = denials.first().cloned();
    denials.clear();
    first
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
