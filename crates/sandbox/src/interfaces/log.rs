//! `lord:plugin/log`: structured log records, counted against the call's
//! output budget (no permission: a plugin may always say what it does).

use lord_perf::Area;
use wasmtime::component::{HasSelf, Linker};

use super::HostInterface;
use crate::bindings::lord::plugin::{log, types};
use crate::instance::LogLevel;
use crate::session::StoreState;

pub(super) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/log",
    family: None,
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    log::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

impl log::Host for StoreState {
    /// A record past the budget traps at once, so a flooding guest stops
    /// now instead of running on to its deadline.
    fn log(&mut self, level: types::Level, message: String) -> wasmtime::Result<()> {
        self.meter.enter(Area::Log);
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
