//! One call's measurement, as the sandbox makes it: fixed-size and `Copy`,
//! so making one allocates nothing.

use serde::Serialize;

/// Where a call's host time went: each `lord:plugin` interface with
/// functions, and `wasi` for everything else the guest calls into the host
/// for (WASI 0.2 clocks, files, sockets, streams, and the engine's own
/// runtime calls such as growing memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    Log,
    Data,
    Config,
    Shared,
    Events,
    Secrets,
    Messaging,
    Delivery,
    Exec,
    Metrics,
    Ai,
    /// `lord:plugin/sql` (and the other database interfaces).
    Db,
    Wasi,
}

/// How many areas there are: the length of a sample's arrays.
pub const AREAS: usize = 13;

impl Area {
    pub const ALL: [Area; AREAS] = [
        Area::Log,
        Area::Data,
        Area::Config,
        Area::Shared,
        Area::Events,
        Area::Secrets,
        Area::Messaging,
        Area::Delivery,
        Area::Exec,
        Area::Metrics,
        Area::Ai,
        Area::Db,
        Area::Wasi,
    ];

    /// The area's place in a sample's arrays.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The interface's name as a user reads it in a report.
    pub const fn name(self) -> &'static str {
        match self {
            Area::Log => "log",
            Area::Data => "data",
            Area::Config => "config",
            Area::Shared => "shared",
            Area::Events => "events",
            Area::Secrets => "secrets",
            Area::Messaging => "messaging",
            Area::Delivery => "delivery",
            Area::Exec => "exec",
            Area::Metrics => "metrics",
            Area::Ai => "ai",
            Area::Db => "db",
            Area::Wasi => "wasi",
        }
    }

    pub fn from_name(name: &str) -> Option<Area> {
        Area::ALL.into_iter().find(|area| area.name() == name)
    }
}

/// Which export of the plugin a call entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// A lifecycle hook (`on-load`, `on-enable`, ...); the name is the hook's.
    Hook,
    /// `run-command`; the name is the command's.
    Command,
    /// A micro handler's `call-micro` or `execute`; the name is its id.
    Micro,
    /// A micro handler's `validate`; the name is its id.
    Validate,
    /// `handle-event`.
    Event,
    /// `handle-message`.
    Message,
}

impl EntryKind {
    pub const ALL: [EntryKind; 6] = [
        EntryKind::Hook,
        EntryKind::Command,
        EntryKind::Micro,
        EntryKind::Validate,
        EntryKind::Event,
        EntryKind::Message,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            EntryKind::Hook => "hook",
            EntryKind::Command => "command",
            EntryKind::Micro => "micro",
            EntryKind::Validate => "validate",
            EntryKind::Event => "event",
            EntryKind::Message => "message",
        }
    }

    pub fn from_name(name: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// How a call ended, by kind only (never its message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Ok,
    /// The guest returned an error of its own.
    Returned,
    Denied,
    TimeLimit,
    MemoryLimit,
    OutputLimit,
    StackLimit,
    HandleLimit,
    Trap,
    Poisoned,
    Setup,
    /// Answered from the result cache: no guest code ran.
    Cached,
}

/// How many outcome kinds there are.
pub const OUTCOMES: usize = 12;

impl Outcome {
    pub const ALL: [Outcome; OUTCOMES] = [
        Outcome::Ok,
        Outcome::Returned,
        Outcome::Denied,
        Outcome::TimeLimit,
        Outcome::MemoryLimit,
        Outcome::OutputLimit,
        Outcome::StackLimit,
        Outcome::HandleLimit,
        Outcome::Trap,
        Outcome::Poisoned,
        Outcome::Setup,
        Outcome::Cached,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Returned => "returned",
            Outcome::Denied => "denied",
            Outcome::TimeLimit => "time-limit",
            Outcome::MemoryLimit => "memory-limit",
            Outcome::OutputLimit => "output-limit",
            Outcome::StackLimit => "stack-limit",
            Outcome::HandleLimit => "handle-limit",
            Outcome::Trap => "trap",
            Outcome::Poisoned => "poisoned",
            Outcome::Setup => "setup",
            Outcome::Cached => "cached",
        }
    }

    pub fn from_name(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Whether the call failed (a cached answer and `ok` did not).
    pub const fn failed(self) -> bool {
        match self {
            Outcome::Ok | Outcome::Cached => false,
            Outcome::Returned
            | Outcome::Denied
            | Outcome::TimeLimit
            | Outcome::MemoryLimit
            | Outcome::OutputLimit
            | Outcome::StackLimit
            | Outcome::HandleLimit
            | Outcome::Trap
            | Outcome::Poisoned
            | Outcome::Setup => true,
        }
    }
}

/// One call, measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// From entering the guest's export to its return, in nanoseconds.
    pub wall_ns: u64,
    /// Time in host calls by [`Area`] (the rest of `wall_ns` is the guest's).
    pub host_ns: [u64; AREAS],
    /// Host calls by [`Area`].
    pub host_calls: [u32; AREAS],
    /// The most linear memory the instance held, in bytes.
    pub peak_memory_bytes: u64,
    /// What the call wrote and returned (stdout, stderr, logs, its answer).
    pub output_bytes: u64,
    /// What the call was handed, in bytes (a command's argument values, a
    /// handler's input, an event's payload): its size only, so analytics
    /// can relate latency to it without ever holding the input.
    pub input_bytes: u64,
    pub outcome: Outcome,
}

impl Sample {
    /// A call answered from the result cache: no guest code ran, so it
    /// costs nothing; it counts in the usage log only (as `cached`, outside
    /// latency), never in the call figures, which count it as a cache hit.
    pub fn cached() -> Self {
        Self {
            wall_ns: 0,
            host_ns: [0; AREAS],
            host_calls: [0; AREAS],
            peak_memory_bytes: 0,
            output_bytes: 0,
            input_bytes: 0,
            outcome: Outcome::Cached,
        }
    }

    /// The time spent in host calls, all areas together.
    pub fn host_total_ns(&self) -> u64 {
        self.host_ns.iter().sum()
    }

    /// The guest's own time: the wall time less every host call.
    pub fn guest_ns(&self) -> u64 {
        self.wall_ns.saturating_sub(self.host_total_ns())
    }
}
