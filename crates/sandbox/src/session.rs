//! One store under limits, what every kind of instance is made of: the
//! store's data (WASI context, resource table, limiter, output budget,
//! refusals, links), the deadline, and the guard that runs a guest call and
//! turns every way it can end into a typed [`Failure`].

use std::sync::Arc;
use std::time::Instant;

use lord_manifest::PluginId;
use lord_perf::{EntryKind, Outcome, Recorder, Sample};
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::capability::{self, Denial, Denials, Grants};
use crate::deadline::{self, Deadline};
use crate::error::{CallError, Failure};
use crate::http::HttpHooks;
use crate::instance::Captured;
use crate::limits::{Limiter, Limits};
use crate::links::Links;
use crate::meter::Meter;
use crate::output::{OutputBudget, OutputExceeded};

/// The data of one plugin's store.
pub(crate) struct StoreState {
    /// The plugin this store runs, as the services it asks name it.
    pub(crate) plugin: PluginId,
    wasi: WasiCtx,
    /// WASI's handles and the `lord:plugin` resources (reply streams).
    pub(crate) table: ResourceTable,
    limiter: Limiter,
    pub(crate) budget: OutputBudget,
    pub(crate) denials: Denials,
    /// The services its host interfaces reach (its channel scope, its
    /// messenger), as the host linked them for this instance.
    pub(crate) links: Links,
    /// When the current call must end: set by the epoch callback at the
    /// call's first tick, or by the wait guard if the call first waits in a
    /// host call; a call that ends within a tick in one go never reads the
    /// clock.
    deadline: Arc<Deadline>,
    /// The level of the event the current `handle-event` call is handling,
    /// for `lord:plugin/delivery`; `None` in any other call.
    pub(crate) handling: Option<lord_state::Propagation>,
    /// Events the current call published, held until it ends: published
    /// if it ends well, dropped if it fails in any way.
    pub(crate) staged: Vec<lord_state::Staged>,
    pub(crate) staged_bytes: u64,
    /// What `lord:plugin/exec` may run, and where.
    pub(crate) exec: Arc<crate::interfaces::ExecGrants>,
    /// What `lord:plugin/metrics` may read.
    pub(crate) metrics: crate::MetricsAccess,
    /// Which profiles `lord:plugin/ai` may ask, and its open streams.
    pub(crate) ai: crate::interfaces::AiState,
    /// Which profiles `lord:plugin/sql`, `kv` and `document` may reach.
    pub(crate) db: crate::interfaces::DbState,
    /// `wasi:http`'s state, and lord's policy for the requests it sends.
    http: WasiHttpCtx,
    http_hooks: HttpHooks,
    /// The current call's host time and calls by interface, when the host
    /// records figures.
    pub(crate) meter: Meter,
}

impl StoreState {
    /// When the current call must end, starting its clock now if nothing
    /// has yet: for a host call that hands its deadline on (a statement
    /// the database should end there).
    pub(crate) fn call_deadline(&self) -> std::time::Instant {
        self.deadline.get_or_start(std::time::Instant::now())
    }

    /// Ends the current call's events: publishes them when it ended well,
    /// drops them otherwise. A failure to publish one (the log's database
    /// failing) is reported when the log is next written, at the end of
    /// the command at the latest, not pinned on the plugin.
    fn settle(&mut self, ended_well: bool) {
        let staged = std::mem::take(&mut self.staged);
        self.staged_bytes = 0;
        if !ended_well || staged.is_empty() {
            return;
        }
        if let Some(scope) = self.links.get::<lord_state::Scope>() {
            for event in staged {
                let _ = scope.commit(event);
            }
        }
    }
}

impl WasiHttpView for StoreState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
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
    pub(crate) plugin: PluginId,
    store: Store<StoreState>,
    /// The store's deadline, held here too so a call's guard reaches it
    /// while the store is lent to the call.
    deadline: Arc<Deadline>,
    pub(crate) limits: Limits,
    pub(crate) poisoned: bool,
    /// Whether the guest can reach any host interface. A strict
    /// micro-plugin cannot (every import traps): it can neither wait in a
    /// host call, so the epoch deadline alone bounds it and its calls skip
    /// the timer, nor write output or be refused an access, so there is
    /// nothing to collect after a call.
    pub(crate) reaches_host: bool,
    /// Where each call's figures go, when the host linked a recorder.
    recorder: Option<Recorder>,
    /// What each call is charged to, when the host keeps per-minute
    /// quotas: the same wall time the figures record.
    quota: Option<lord_state::PluginQuota>,
}

impl Session {
    pub(crate) fn denials(&self) -> Vec<Denial> {
        self.store.data().denials.seen()
    }

    /// Tells `lord:plugin/delivery` which event's level the next calls
    /// are handling (`None` when they handle none).
    pub(crate) fn set_handling(&mut self, level: Option<lord_state::Propagation>) {
        self.store.data_mut().handling = level;
    }

    pub(crate) fn peak_memory_bytes(&self) -> u64 {
        u64::try_from(self.store.data().limiter.peak_memory).unwrap_or(u64::MAX)
    }

    pub(crate) fn new(
        plugin: &PluginId,
        engine: &Engine,
        grants: &Grants,
        limits: Limits,
        links: &Links,
        reaches_host: bool,
    ) -> Result<Self, CallError> {
        let budget = OutputBudget::new(limits.output_bytes);
        let denials = Denials::default();
        let wasi = capability::build_wasi(grants, &budget, &denials)
            .map_err(|message| CallError::new(plugin, Failure::Setup { message }))?;
        let deadline = Deadline::new(limits.time);
        let quota = links.get::<lord_state::PluginQuota>().cloned();
        let http_hooks = HttpHooks::new(
            &grants.net,
            denials.clone(),
            budget.clone(),
            Arc::clone(&deadline),
            quota.clone(),
        );
        let state = StoreState {
            plugin: plugin.clone(),
            wasi,
            table: handle_table(&limits),
            limiter: Limiter::new(&limits),
            budget,
            denials,
            links: links.clone(),
            deadline: Arc::clone(&deadline),
            handling: None,
            staged: Vec::new(),
            staged_bytes: 0,
            exec: crate::interfaces::ExecGrants::new(grants),
            metrics: grants.metrics,
            ai: crate::interfaces::AiState::new(grants),
            db: crate::interfaces::DbState::new(grants),
            http: WasiHttpCtx::new(),
            http_hooks,
            meter: Meter::default(),
        };
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.limiter);
        // Host time by interface is measured only for a host that records
        // it, in an instance that can reach the host at all (a strict one
        // cannot): without the hook the engine skips the call entirely.
        let recorder = links.get::<Recorder>().cloned();
        if recorder.is_some() && reaches_host {
            store.call_hook(|mut ctx, hook| {
                ctx.data_mut().meter.hook(hook);
                Ok(())
            });
        }
        // One wall-clock budget: the epoch callback compares real time with
        // the deadline at every tick, so guest code stops on time however its
        // time is spent; a host call that waits is stopped by the guard
        // around each call (`deadline::bounded`). The first tick of a call
        // comes at most one tick after it began, so a deadline set then is
        // never early and at most one tick late.
        store.epoch_deadline_callback(|ctx| {
            let now = Instant::now();
            let deadline = &ctx.data().deadline;
            match deadline.get() {
                None => {
                    deadline.get_or_start(now);
                    Ok(UpdateDeadline::Continue(1))
                }
                Some(at) if now >= at => Ok(UpdateDeadline::Interrupt),
                Some(_) => Ok(UpdateDeadline::Continue(1)),
            }
        });
        store.set_epoch_deadline(1);
        Ok(Self {
            plugin: plugin.clone(),
            store,
            limits,
            deadline,
            poisoned: false,
            reaches_host,
            recorder,
            quota,
        })
    }

    /// Instantiates under the limits (instantiation runs guest start code).
    pub(crate) async fn instantiate<B>(
        &mut self,
        instantiate: impl AsyncFnOnce(&mut Store<StoreState>) -> wasmtime::Result<B>,
    ) -> Result<B, CallError> {
        let clock = self.quota.is_some().then(Instant::now);
        let started = run_guarded(&mut self.store, &self.deadline, self.limits, instantiate).await;
        // Start-up code is the plugin's time as much as a call's: charged
        // to its CPU quota (not counted as a call, as hooks are not), so
        // work done there is not out of the quota's sight.
        if let (Some(quota), Some(clock)) = (&self.quota, clock) {
            let wall_ns = u64::try_from(clock.elapsed().as_nanos()).unwrap_or(u64::MAX);
            quota.charge_call_at(false, wall_ns, lord_state::now_ms());
        }
        self.store.data_mut().settle(started.is_ok());
        let bindings = started.map_err(|failure| CallError::new(&self.plugin, failure))?;
        // Whatever start-up code printed belongs to no call.
        self.store.data().budget.take();
        Ok(bindings)
    }

    /// Runs one guest call under the limits and turns every way it can end
    /// into a typed result. `Returned` keeps the session usable; any other
    /// failure poisons it.
    pub(crate) async fn call<T: Answer>(
        &mut self,
        entry: (EntryKind, &str, usize),
        call: impl AsyncFnOnce(&mut Store<StoreState>) -> wasmtime::Result<GuestResult<T>>,
    ) -> Result<(T, Captured), CallError> {
        if self.poisoned {
            return Err(CallError::new(&self.plugin, Failure::Poisoned));
        }
        // Two clock reads and a reset of the store's meter when the host
        // records figures; a branch when it does not.
        let started = (self.recorder.is_some() || self.quota.is_some()).then(|| {
            self.store.data_mut().meter.reset();
            Instant::now()
        });
        // `run_guarded` inlined by hand: this is the hot path, and one
        // less future level is one less move of the whole call's state.
        let limits = self.limits;
        arm(&mut self.store, &self.deadline);
        let outcome = if self.reaches_host {
            // The call's future is made where it runs, never moved: this is
            // the hot path (`deadline::bounded` without the move).
            let finished = {
                let deadline = &self.deadline;
                let mut running = std::pin::pin!(call(&mut self.store));
                let mut timer = None;
                std::future::poll_fn(|cx| {
                    deadline::poll_bounded(running.as_mut(), &mut timer, deadline, cx)
                })
                .await
            };
            match finished {
                Some(outcome) => {
                    outcome.map_err(|error| classify(self.store.data(), &error, limits))
                }
                None => Err(Failure::TimeLimit { limit: limits.time }),
            }
        } else {
            call(&mut self.store)
                .await
                .map_err(|error| classify(self.store.data(), &error, limits))
        };
        // A call whose budget ran out fails as over its limit, whatever the
        // guest made of it: an HTTP response cut at the budget reaches the
        // guest as a stream error it may well swallow.
        let outcome = match outcome {
            Ok(_) if self.reaches_host && self.store.data().budget.exceeded() => {
                Err(Failure::OutputLimit {
                    limit_bytes: self.store.data().budget.limit(),
                })
            }
            outcome => outcome,
        };
        let (captured, denied) = if self.reaches_host {
            self.store.data_mut().settle(matches!(outcome, Ok(Ok(_))));
            (
                self.store.data().budget.take(),
                take_denial(self.store.data()),
            )
        } else {
            (Captured::default(), None)
        };
        let wall_ns = started.map(|at| u64::try_from(at.elapsed().as_nanos()).unwrap_or(u64::MAX));
        if let Some(wall_ns) = wall_ns {
            // One read of the real-time clock for the quota window and the
            // usage log both.
            let at_ms = lord_state::now_ms();
            if let Some(quota) = &self.quota {
                quota.charge_call_at(entry.0 != EntryKind::Hook, wall_ns, at_ms);
            }
            self.record_figures(entry, wall_ns, at_ms, &outcome, &captured, denied.is_some());
        }
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
            )
            .with_captured(captured)),
            Err(mut failure) => {
                self.poisoned = true;
                let mut captured = captured;
                if let Failure::Trap { message } = &mut failure {
                    *message = with_panic_message(std::mem::take(message), &captured);
                    // The panic is in the message now; what came before it
                    // is what the plugin wrote.
                    captured.stderr = before_panic(&captured.stderr).to_vec();
                }
                let error = CallError::new(&self.plugin, failure);
                // Output over its budget is exactly what must not reach the
                // user.
                if matches!(error.failure, Failure::OutputLimit { .. }) {
                    Err(error)
                } else {
                    Err(error.with_captured(captured))
                }
            }
        }
    }
}

/// The guest's answer to a call that completed.
pub(crate) type GuestResult<T> = Result<T, String>;

/// What a call returns, for the size its figures record.
pub(crate) trait Answer {
    fn answer_len(&self) -> usize;
}

impl Answer for () {
    fn answer_len(&self) -> usize {
        0
    }
}

impl Answer for String {
    fn answer_len(&self) -> usize {
        self.len()
    }
}

/// The bytes a call wrote: stdout, stderr and its log records.
fn captured_bytes(captured: &Captured) -> u64 {
    let logs: usize = captured.logs.iter().map(|l| l.message.len()).sum();
    (captured.stdout.len() + captured.stderr.len() + logs) as u64
}

/// A failure's kind, for the figures.
fn outcome_of(failure: &Failure) -> Outcome {
    match failure {
        Failure::TimeLimit { .. } => Outcome::TimeLimit,
        Failure::MemoryLimit { .. } => Outcome::MemoryLimit,
        Failure::StackLimit => Outcome::StackLimit,
        Failure::OutputLimit { .. } => Outcome::OutputLimit,
        Failure::HandleLimit { .. } => Outcome::HandleLimit,
        Failure::Denied { .. } => Outcome::Denied,
        Failure::Trap { .. } => Outcome::Trap,
        Failure::Returned { .. } => Outcome::Returned,
        Failure::Poisoned => Outcome::Poisoned,
        Failure::Setup { .. } => Outcome::Setup,
    }
}

impl Session {
    /// Hands the recorder (when the host links one) the figures of a call
    /// that ended `outcome` after `wall_ns`, at `at_ms` since the epoch.
    fn record_figures<T: Answer>(
        &mut self,
        entry: (EntryKind, &str, usize),
        wall_ns: u64,
        at_ms: i64,
        outcome: &Result<GuestResult<T>, Failure>,
        captured: &Captured,
        denied: bool,
    ) {
        let Some(recorder) = &self.recorder else {
            return;
        };
        self.store.data_mut().meter.close();
        let state = self.store.data();
        let (kind, answer) = match outcome {
            Ok(Ok(value)) => (Outcome::Ok, value.answer_len()),
            Ok(Err(message)) if denied => (Outcome::Denied, message.len()),
            Ok(Err(message)) => (Outcome::Returned, message.len()),
            Err(failure) => (outcome_of(failure), 0),
        };
        let sample = Sample {
            wall_ns,
            host_ns: state.meter.host_ns,
            host_calls: state.meter.host_calls,
            peak_memory_bytes: u64::try_from(state.limiter.peak_memory).unwrap_or(u64::MAX),
            output_bytes: captured_bytes(captured).saturating_add(answer as u64),
            input_bytes: entry.2 as u64,
            outcome: kind,
        };
        let at_ms = u64::try_from(at_ms).unwrap_or(0);
        recorder.record_at(&self.plugin, entry.0, entry.1, &sample, at_ms);
    }

    /// The returned text counts against the same output budget as
    /// everything else the plugin writes.
    pub(crate) fn check_returned_output(
        &self,
        text: String,
        captured: Captured,
    ) -> Result<(String, Captured), CallError> {
        self.check_output_size(&text, &captured)?;
        Ok((text, captured))
    }

    /// The check alone, for callers that keep the values where they are.
    pub(crate) fn check_output_size(
        &self,
        text: &str,
        captured: &Captured,
    ) -> Result<(), CallError> {
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

/// Starts the call's clock: the deadline itself is set when first needed
/// (the next tick, or the first wait).
fn arm(store: &mut Store<StoreState>, deadline: &Deadline) {
    deadline.arm();
    store.set_epoch_deadline(1);
}

/// Runs `call` with the deadline armed, and classifies how it ended.
async fn run_guarded<R>(
    store: &mut Store<StoreState>,
    deadline: &Deadline,
    limits: Limits,
    call: impl AsyncFnOnce(&mut Store<StoreState>) -> wasmtime::Result<R>,
) -> Result<R, Failure> {
    arm(store, deadline);
    // The guard covers host calls that wait (sleeps, sockets): while the
    // guest computes, the epoch callback stops it; while the host waits on
    // its behalf, the guard's timer does. Start-up code may wait too, so
    // instantiation is always guarded.
    let outcome = match deadline::bounded(call(store), deadline).await {
        Some(outcome) => outcome,
        None => return Err(Failure::TimeLimit { limit: limits.time }),
    };
    outcome.map_err(|error| classify(store.data(), &error, limits))
}

/// The store's resource table, where WASI keeps every file, directory,
/// socket and stream the guest holds: capped, so one instance cannot take
/// the process's descriptors. Past the cap an open fails as a trap, which
/// [`classify`] names.
fn handle_table(limits: &Limits) -> ResourceTable {
    let mut table = ResourceTable::new();
    table.set_max_capacity(usize::try_from(limits.open_handles).unwrap_or(usize::MAX));
    table
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
    if error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<wasmtime::component::ResourceTableError>(),
            Some(wasmtime::component::ResourceTableError::Full)
        )
    }) {
        return Failure::HandleLimit {
            limit: limits.open_handles,
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
    state.denials.peek()
}

fn take_denial(state: &StoreState) -> Option<String> {
    state.denials.take()
}

/// What begins the report a Rust guest writes to stderr when it panics.
const PANIC_REPORT: &str = "panicked at";

/// `stderr` up to the line where a Rust panic's report begins (all of it
/// when there is none).
fn before_panic(stderr: &[u8]) -> &[u8] {
    let mark = PANIC_REPORT.as_bytes();
    let mut start = 0;
    for line in stderr.split_inclusive(|&b| b == b'\n') {
        if line.windows(mark.len()).any(|w| w == mark) {
            return &stderr[..start];
        }
        start += line.len();
    }
    stderr
}

/// A Rust guest that panics prints the panic message to stderr and then
/// traps; the message is what a user needs to see.
fn with_panic_message(trap: String, captured: &Captured) -> String {
    let stderr = String::from_utf8_lossy(&captured.stderr);
    match stderr.lines().find(|line| line.contains(PANIC_REPORT)) {
        Some(line) => {
            let detail = stderr
                .lines()
                .skip_while(|l| !l.contains(PANIC_REPORT))
                .nth(1)
                .unwrap_or("");
            format!("{} {} ({trap})", line.trim(), detail.trim())
        }
        None => trap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_came_before_a_panic_is_kept_and_the_report_is_not() {
        let stderr = b"connecting to the mirror\nretrying\n\nthread '<unnamed>' panicked at src/lib.rs:9:5:\nno mirror answered\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(
            before_panic(stderr),
            b"connecting to the mirror\nretrying\n\n"
        );
        assert_eq!(before_panic(b"just a warning\n"), b"just a warning\n");
        assert_eq!(before_panic(b"panicked at once\n"), b"");
        assert_eq!(before_panic(b""), b"");
    }
}
