//! The guest SDK for Rust plugin authors.
//!
//! A plugin implements one trait, [`Plugin`], whose hooks all have sensible
//! defaults, and names its type once with [`export_plugin!`]. The WIT bindings
//! stay inside this crate, so a plugin never touches the ABI.
//!
//! ```no_run
//! use lord_pdk::{Command, Plugin};
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn run_command(command: Command) -> Result<String, String> {
//!         let name = command.arg("name").unwrap_or("world");
//!         Ok(format!("Hello, {name}!\n"))
//!     }
//! }
//!
//! lord_pdk::export_plugin!(Hello);
//! ```

use std::marker::PhantomData;

#[doc(hidden)]
pub mod bindings {
    //! Generated from the project's `wit/` folder (world `plugin`); not part
    //! of the API.
    #![allow(missing_docs, unreachable_pub, clippy::all, unsafe_op_in_unsafe_fn)]
    wit_bindgen::generate!({
        world: "plugin",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "lord_pdk::bindings",
    });
}

#[doc(hidden)]
pub mod micro_bindings {
    //! World `micro-plugin`; not part of the API.
    #![allow(missing_docs, unreachable_pub, clippy::all, unsafe_op_in_unsafe_fn)]
    wit_bindgen::generate!({
        world: "micro-plugin",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "__export_micro_world",
        default_bindings_module: "lord_pdk::micro_bindings",
    });
}

#[doc(hidden)]
pub mod http_bindings {
    //! `wasi:http/outgoing-handler`, for [`http`](crate::http); not part of
    //! the API. A plugin that never sends a request imports none of it.
    #![allow(missing_docs, unreachable_pub, clippy::all, unsafe_op_in_unsafe_fn)]
    wit_bindgen::generate!({
        world: "http",
        path: "wit-http",
        generate_all,
    });
}

pub mod ai;
pub mod document;
pub mod exec;
pub mod http;
pub mod kv;
pub mod metrics;
mod micro;
pub mod sql;

pub use micro::{Json, Micro, MicroContext};
/// Re-exported so micro-plugins can build JSON values without a dependency of their own.
pub use serde_json;

#[doc(hidden)]
pub mod micro_adapter {
    //! Re-exported for the export macros; not part of the API.
    pub use crate::micro::MicroAdapter;
}

use bindings::exports::lord::plugin::guest;
use bindings::lord::plugin::{log as host_log, types};

/// A command invocation, as the host parsed it against the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The command's name, as declared in `plugin.toml`.
    pub name: String,
    args: Vec<(String, Vec<String>)>,
}

impl Command {
    /// The first value of an argument, if the user gave it.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.values(name).first().map(String::as_str)
    }

    /// Every value of an argument (for arguments declared `multiple`).
    pub fn values(&self, name: &str) -> &[String] {
        self.args
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }
}

/// What a plugin implements. Every hook has a default; only commands must be
/// written. Returning `Err(reason)` fails the hook or command, and the host
/// shows the reason to the user.
pub trait Plugin {
    /// Runs when the host loads the plugin into a process.
    fn on_load() -> Result<(), String> {
        Ok(())
    }

    /// Runs when the user enables the plugin.
    fn on_enable() -> Result<(), String> {
        Ok(())
    }

    /// Runs when the user disables the plugin.
    fn on_disable() -> Result<(), String> {
        Ok(())
    }

    /// Runs before the host lets the plugin go.
    fn on_unload() -> Result<(), String> {
        Ok(())
    }

    /// Told about a failure the host recorded for this plugin.
    fn on_error(_message: &str) {}

    /// Runs one of the commands the manifest declares; the text is printed
    /// to the user's standard output.
    fn run_command(command: Command) -> Result<String, String>;

    /// Runs one of the micro-plugins the manifest declares (`[[micro]]`).
    fn micro(ctx: &MicroContext, input: Json) -> Result<Json, String> {
        let _ = input;
        Err(format!("this plugin has no micro-plugin `{}`", ctx.id))
    }

    /// Checks input for one of the declared micro-plugins; accepts all by
    /// default.
    fn micro_validate(ctx: &MicroContext, input: &Json) -> Result<(), String> {
        let _ = (ctx, input);
        Ok(())
    }

    /// Receives an event its `events-subscribe(PATTERN)` grants cover;
    /// ignores it by default.
    fn handle_event(event: Event) -> Result<(), String> {
        let _ = event;
        Ok(())
    }

    /// Answers a request from plugin `sender` (declare `[messages] accept
    /// = true` to receive any); refuses by default.
    fn handle_message(sender: &str, payload: &str) -> Result<String, String> {
        let _ = payload;
        Err(format!("this plugin answers no requests (from `{sender}`)"))
    }
}

/// An event delivered to a subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub topic: String,
    /// The publishing plugin's id, or `lord`.
    pub source: String,
    pub payload: Json,
    /// Milliseconds since the Unix epoch, when published.
    pub at_ms: i64,
}

impl Event {
    /// Whether lord itself published this event (at its own `system`
    /// level, which no plugin can use), asked of the host for the event
    /// `handle_event` is handling. Trust this, not `source`, before acting
    /// on an event as lord's word. Needs a host of API 0.2.1 or later.
    pub fn from_lord(&self) -> bool {
        use bindings::lord::plugin::delivery;
        delivery::propagation() == Some(delivery::Level::System)
    }
}

/// Log through the host. Records count against the call's output budget.
pub mod log {
    use super::{host_log, types};

    pub fn trace(message: &str) {
        host_log::log(types::Level::Trace, message);
    }
    pub fn debug(message: &str) {
        host_log::log(types::Level::Debug, message);
    }
    pub fn info(message: &str) {
        host_log::log(types::Level::Info, message);
    }
    pub fn warn(message: &str) {
        host_log::log(types::Level::Warn, message);
    }
    pub fn error(message: &str) {
        host_log::log(types::Level::Error, message);
    }
}

/// The plugin's own data: keys no other plugin can read. `persistent`
/// values survive across runs; all of it counts against the manifest's
/// `max-data-kib`.
///
/// Several `lord` processes may run the plugin at once (two terminals,
/// `xargs -P`): a `get` then `set` of a persistent value can lose another
/// process's write in between. [`data::update`] cannot: it reads the
/// value's version and writes by compare-and-swap, retrying on a conflict.
pub mod data {
    use super::bindings::lord::plugin::data as host;
    pub use host::{CasOutcome, Versioned};

    pub fn get(key: &str) -> Result<Option<Vec<u8>>, String> {
        host::get(key)
    }

    pub fn set(key: &str, value: &[u8], persistent: bool) -> Result<(), String> {
        host::set(key, value, persistent)
    }

    pub fn delete(key: &str) -> Result<bool, String> {
        host::delete(key)
    }

    pub fn keys() -> Result<Vec<String>, String> {
        host::keys()
    }

    /// A persistent value and its version (needs a host of API 0.2.1).
    pub fn get_versioned(key: &str) -> Result<Option<Versioned>, String> {
        host::get_versioned(key)
    }

    /// Writes `value` persistently only if `key` is still at `expected`
    /// (0: absent), whichever process wrote it last (needs a host of API
    /// 0.2.1).
    pub fn compare_and_swap(key: &str, expected: u64, value: &[u8]) -> Result<CasOutcome, String> {
        host::compare_and_swap(key, expected, value)
    }

    /// Applies `change` to the persistent value at `key` until no other
    /// writer, in this process or another, got in between; returns the
    /// version written. `change` may run several times, so it should only
    /// compute; its `Err` stops the update and writes nothing.
    pub fn update(
        key: &str,
        mut change: impl FnMut(Option<&[u8]>) -> Result<Vec<u8>, String>,
    ) -> Result<u64, String> {
        let mut current = get_versioned(key)?;
        loop {
            let expected = current.as_ref().map_or(0, |v| v.version);
            let next = change(current.as_ref().map(|v| v.value.as_slice()))?;
            match compare_and_swap(key, expected, &next)? {
                CasOutcome::Swapped(version) => return Ok(version),
                CasOutcome::Conflict(now) => current = now,
            }
        }
    }
}

/// Values shared between plugins; each key needs `state-shared(KEY)`.
pub mod shared {
    use super::bindings::lord::plugin::shared as host;
    pub use host::{CasOutcome, Versioned};

    pub fn get(key: &str) -> Result<Option<Versioned>, String> {
        host::get(key)
    }

    /// Writes unconditionally; returns the new version.
    pub fn set(key: &str, value: &[u8]) -> Result<u64, String> {
        host::set(key, value)
    }

    /// Writes only if `key` is still at `expected` (0: absent).
    pub fn compare_and_swap(key: &str, expected: u64, value: &[u8]) -> Result<CasOutcome, String> {
        host::compare_and_swap(key, expected, value)
    }

    /// Applies `change` to the current value until no other writer (in any
    /// process: shared values live in lord's state database) got in
    /// between; returns the version written.
    pub fn update(
        key: &str,
        mut change: impl FnMut(Option<&[u8]>) -> Vec<u8>,
    ) -> Result<u64, String> {
        let mut current = get(key)?;
        loop {
            let expected = current.as_ref().map_or(0, |v| v.version);
            let next = change(current.as_ref().map(|v| v.value.as_slice()));
            match compare_and_swap(key, expected, &next)? {
                CasOutcome::Swapped(version) => return Ok(version),
                CasOutcome::Conflict(now) => current = now,
            }
        }
    }
}

/// Publishing events; each topic needs `events-publish(TOPIC)`.
pub mod events {
    use super::bindings::lord::plugin::events as host;
    pub use host::Propagation;

    /// Publishes `payload` on `topic`.
    pub fn publish(
        topic: &str,
        payload: &serde_json::Value,
        propagation: Propagation,
    ) -> Result<(), String> {
        host::publish(topic, &payload.to_string(), propagation, false)
    }

    /// Publishes an event marked sensitive: delivered as usual, and (when
    /// `global`) stored only encrypted with the user's secret key.
    pub fn publish_sensitive(
        topic: &str,
        payload: &serde_json::Value,
        propagation: Propagation,
    ) -> Result<(), String> {
        host::publish(topic, &payload.to_string(), propagation, true)
    }
}

/// Secrets the user stored with `lord secret set`; each name needs
/// `secret(NAME)`. Never log or return a secret's value.
pub mod secrets {
    use super::bindings::lord::plugin::secrets as host;

    pub fn get(name: &str) -> Result<String, String> {
        host::get(name)
    }
}

/// The plugin's own configuration (`[plugins.<id>]` in lord's config),
/// already checked against the manifest's `[config] schema`.
pub mod config {
    use super::bindings::lord::plugin::config as host;

    /// The value at a dotted key of the plugin's table (`""`: all of it).
    pub fn get(key: &str) -> Option<serde_json::Value> {
        host::get(key).and_then(|text| serde_json::from_str(&text).ok())
    }
}

/// Requests to other plugins; asking plugin B needs `message(B)`.
pub mod messaging {
    use super::bindings::lord::plugin::messaging as host;

    /// Sends `payload` to plugin `to` and waits for its reply, at most
    /// `timeout_ms`.
    pub fn request(to: &str, payload: &str, timeout_ms: u32) -> Result<String, String> {
        host::request(to, payload, timeout_ms)
    }

    /// Queues `payload` for plugin `to`, highest `priority` first: delivered
    /// after this command, or kept until a later one when `to` cannot take
    /// it now (disabled, failing); each message exactly once. Never waits.
    /// `Ok(false)`: `to`'s mailbox was full of messages at least as
    /// urgent, and this one was dropped.
    pub fn send(to: &str, payload: &str, priority: u8) -> Result<bool, String> {
        host::send(to, payload, priority)
    }

    /// `send` to every plugin this one may message that accepts messages;
    /// returns how many queued it.
    pub fn broadcast(payload: &str, priority: u8) -> Result<u32, String> {
        host::broadcast(payload, priority)
    }
}

/// Bridges a [`Plugin`] to the generated export trait.
#[doc(hidden)]
pub struct Adapter<T>(PhantomData<T>);

impl<T: Plugin> guest::Guest for Adapter<T> {
    fn on_load() -> Result<(), String> {
        T::on_load()
    }

    fn on_enable() -> Result<(), String> {
        T::on_enable()
    }

    fn on_disable() -> Result<(), String> {
        T::on_disable()
    }

    fn on_unload() -> Result<(), String> {
        T::on_unload()
    }

    fn on_error(message: String) {
        T::on_error(&message)
    }

    fn call_micro(input: String, ctx: types::MicroContext) -> Result<String, String> {
        let ctx = MicroContext {
            id: ctx.id,
            key: ctx.key,
        };
        micro::run(&input, |value| T::micro(&ctx, value))
    }

    fn validate_micro(input: String, ctx: types::MicroContext) -> Result<(), String> {
        let ctx = MicroContext {
            id: ctx.id,
            key: ctx.key,
        };
        micro::check(&input, |value| T::micro_validate(&ctx, value))
    }

    fn handle_event(event: types::Event) -> Result<(), String> {
        let payload = serde_json::from_str(&event.payload)
            .map_err(|e| format!("event payload is not JSON: {e}"))?;
        T::handle_event(Event {
            topic: event.topic,
            source: event.source,
            payload,
            at_ms: event.at_ms,
        })
    }

    fn handle_message(sender: String, payload: String) -> Result<String, String> {
        T::handle_message(&sender, &payload)
    }

    fn run_command(invocation: guest::Invocation) -> Result<String, String> {
        T::run_command(Command {
            name: invocation.command,
            args: invocation
                .args
                .into_iter()
                .map(|arg| (arg.name, arg.values))
                .collect(),
        })
    }
}

/// Exports a type implementing [`Plugin`] as this component's plugin.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        type __LordPdkExported = $crate::Adapter<$plugin>;
        $crate::bindings::__export_plugin_world!(
            __LordPdkExported with_types_in $crate::bindings
        );
    };
}
