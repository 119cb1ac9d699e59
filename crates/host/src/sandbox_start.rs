//! Starting the engine off the critical path. Starting it costs more than
//! anything else a one-shot command does before its plugin runs (reserving
//! the instance pool), and most of that needs nothing from the store, so a
//! process that will run a plugin begins it on another thread at once
//! ([`EarlyEngine`]) and finishes it, with the plugin's loaded form, when it
//! knows what to link and which plugin runs ([`LazySandbox::warm_up`]).
//!
//! Every path ends in the same [`Sandbox`]: one started here on first use,
//! one warmed up, one begun early. What the thread was never told (the
//! process ended first) it drops.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use lord_manifest::PluginId;
use lord_sandbox::{BareEngine, Compiled, Sandbox, SandboxError, Withheld};
use lord_store::InstalledPlugin;

use crate::error::HostError;

/// What the starting thread needs to finish: the host interfaces to leave
/// out, where the compiled cache is, and the plugin to load, if one is known.
struct Plan {
    cache_dir: PathBuf,
    withheld: Withheld,
    preload: Option<InstalledPlugin>,
}

/// A plugin's loaded form, made on the starting thread.
struct Preloaded {
    id: PluginId,
    sha: String,
    compiled: Arc<Compiled>,
}

type Started = Result<(Sandbox, Option<Preloaded>), SandboxError>;

/// An engine being started on a thread of its own, waiting for its plan.
pub(crate) struct EarlyEngine {
    plan: Option<Sender<Plan>>,
    thread: JoinHandle<Started>,
}

impl EarlyEngine {
    /// Begins starting the engine now. `None` when no thread can be
    /// spawned; the engine then starts on first use, as without this.
    pub(crate) fn begin() -> Option<Self> {
        let (plan, wait) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("lord-engine".to_owned())
            .spawn(move || start(&wait))
            .ok()?;
        Some(Self {
            plan: Some(plan),
            thread,
        })
    }

    /// Hands the thread its plan, once; a thread that ended already (it
    /// could not start the engine) reports that when joined.
    fn send(&mut self, plan: impl FnOnce() -> Plan) {
        if let Some(sender) = self.plan.take() {
            let _ = sender.send(plan());
        }
    }
}

/// The starting thread: the engine first, then, given the plan, its linker
/// and cache, then the plugin's loaded form. A failed preload is dropped:
/// the loader makes it again and reports the error where it belongs.
fn start(wait: &Receiver<Plan>) -> Started {
    let engine = BareEngine::start();
    let Plan {
        cache_dir,
        withheld,
        preload,
    } = wait
        .recv()
        .map_err(|_| SandboxError::Engine("the engine was started but never used".into()))?;
    let sandbox = Sandbox::from_engine(engine?, &cache_dir, withheld)?;
    let preloaded = preload.and_then(|plugin| {
        let compiled = sandbox
            .prepare(
                plugin.id(),
                &plugin.component,
                &plugin.wasm_sha256,
                &plugin.granted,
            )
            .ok()?;
        Some(Preloaded {
            id: plugin.id().clone(),
            sha: plugin.wasm_sha256,
            compiled: Arc::new(compiled),
        })
    });
    Ok((sandbox, preloaded))
}

/// The engine, started on first use and shared by every handle: `--help`
/// and `plugin list` never pay for one. A process that knows it will run a
/// plugin can start it early on another thread ([`LazySandbox::warm_up`]),
/// so its set-up overlaps the process's own.
#[derive(Clone)]
pub(crate) struct LazySandbox {
    cell: Arc<OnceLock<Sandbox>>,
    cache_dir: PathBuf,
    pub(crate) withheld: Arc<Mutex<Withheld>>,
    /// The engine being started on another thread, if it is.
    starting: Arc<Mutex<Option<EarlyEngine>>>,
    /// The loaded form the starting thread made, until the loader takes it.
    preloaded: Arc<Mutex<Option<Preloaded>>>,
}

impl LazySandbox {
    pub(crate) fn new(cache_dir: PathBuf, early: Option<EarlyEngine>) -> Self {
        Self {
            cell: Arc::new(OnceLock::new()),
            cache_dir,
            withheld: Arc::new(Mutex::new(Withheld::default())),
            starting: Arc::new(Mutex::new(early)),
            preloaded: Arc::new(Mutex::new(None)),
        }
    }

    pub(crate) fn get(&self) -> Result<&Sandbox, HostError> {
        if let Some(sandbox) = self.cell.get() {
            return Ok(sandbox);
        }
        let starting = self
            .starting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let started = starting.map(|mut early| {
            early.send(|| self.plan(None));
            early.thread.join()
        });
        let sandbox = match started {
            Some(Ok(started)) => {
                let (sandbox, preloaded) = started?;
                *self.preloaded.lock().unwrap_or_else(|p| p.into_inner()) = preloaded;
                sandbox
            }
            // The thread panicked or was never started: start it here, so
            // the error (if any) is this thread's to report.
            Some(Err(_)) | None => Sandbox::with_withheld(&self.cache_dir, self.withheld())?,
        };
        Ok(self.cell.get_or_init(|| sandbox))
    }

    /// Starts the engine on a thread of its own, unless it is started or
    /// its plan was sent, and has that thread load `plugin` too when one is
    /// given. [`LazySandbox::get`] then waits for it rather than starting
    /// another. A thread that cannot be spawned changes nothing.
    pub(crate) fn warm_up(&self, plugin: Option<&InstalledPlugin>) {
        if self.cell.get().is_some() {
            return;
        }
        let mut starting = self.starting.lock().unwrap_or_else(|p| p.into_inner());
        if starting.is_none() {
            *starting = EarlyEngine::begin();
        }
        if let Some(early) = starting.as_mut() {
            early.send(|| self.plan(plugin.cloned()));
        }
    }

    /// The loaded form of `plugin` at `sha` made while starting, once.
    pub(crate) fn take_preloaded(&self, id: &PluginId, sha: &str) -> Option<Arc<Compiled>> {
        let mut preloaded = self.preloaded.lock().unwrap_or_else(|p| p.into_inner());
        match preloaded.take() {
            Some(p) if p.id == *id && p.sha == sha => Some(p.compiled),
            other => {
                *preloaded = other;
                None
            }
        }
    }

    fn plan(&self, preload: Option<InstalledPlugin>) -> Plan {
        Plan {
            cache_dir: self.cache_dir.clone(),
            withheld: self.withheld(),
            preload,
        }
    }

    fn withheld(&self) -> Withheld {
        self.withheld
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
