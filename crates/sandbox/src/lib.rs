//! Sandboxed execution of plugin components.
//!
//! Boundary: this is the only crate that names wasmtime. Its public API speaks
//! in the project's own terms ([`Grants`], [`Links`], [`Limits`],
//! [`CallError`]) so the host and the CLI never see an engine, a store or a
//! linker.
//!
//! Invariant: a component runs with no ambient authority. It sees no inherited
//! environment, arguments or standard streams; files only through preopens
//! built from its grants; sockets only to granted addresses. Every call runs
//! under one wall-clock deadline (guest code and host calls alike), a memory
//! cap and an output budget, and a failure of any kind poisons only that
//! instance.
//!
//! Modules depend downwards only: `engine` → `instance` → `interfaces` →
//! `capability`, `links`, `output`, `limits`; the host interfaces reach
//! other plugins only through the [`Messaging`] link the host supplies.

mod bindings;
mod cache;
mod capability;
mod contract;
mod deadline;
mod engine;
mod error;
mod http;
mod instance;
mod interfaces;
mod limits;
mod links;
mod meter;
mod micro_bindings;
mod output;
mod session;

pub use capability::{Denial, Grants, Preopen};
pub use contract::{ContractReport, ImportName, ImportUse, Withheld, import_use};
pub use engine::{BareEngine, Compiled, ComponentFacts, MicroCompiled, Sandbox, StartUp};
pub use error::{CallError, Failure, SandboxError};
pub use instance::{
    Captured, CommandArg, Invocation, LogLevel, LogRecord, MicroCall, MicroInstance, PluginInstance,
};
pub use interfaces::{
    AiAnswer, AiAsk, AiFailure, AiPiece, AiService, DbFailure, DbFuture, DbService, DocumentAnswer,
    DocumentCall, DocumentOp, KvAnswer, KvCall, KvOp, MAX_BATCH, MAX_PARAM_BYTES, MAX_RESULT_BYTES,
    MAX_ROWS, MAX_STATEMENT_BYTES, Messaging, MetricsAccess, Program, Reply, SqlCall,
    SystemMetrics,
};
pub use limits::Limits;
pub use links::Links;
