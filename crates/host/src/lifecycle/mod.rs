//! The lifecycle state machine, and (in `hooks`) what moves a plugin
//! through it. Every (state, event) pair is spelled out:
//! there is no wildcard arm, so a new state or event does not compile until
//! each transition from it is decided.

use std::fmt;

mod hooks;
mod throttle;

pub(crate) use hooks::Lifecycle;

use lord_store::PluginState;

/// Something that happens to a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The user asks to enable (its on-enable hook then runs).
    Enable,
    /// The user asks to disable.
    Disable,
    /// A lifecycle hook failed.
    HookFailed,
    /// Too many failures in a row.
    BreakerTripped,
    /// A command is about to run: allowed only when enabled.
    Run,
}

/// A transition the state machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidTransition {
    pub from: PluginState,
    pub event: Event,
    pub message: String,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Event::Enable => "enable",
            Event::Disable => "disable",
            Event::HookFailed => "hook failure",
            Event::BreakerTripped => "breaker trip",
            Event::Run => "run",
        })
    }
}

/// Where `event` takes a plugin in `from`.
pub fn next(from: PluginState, event: Event) -> Result<PluginState, InvalidTransition> {
    use PluginState::{Disabled, Enabled, Failed, Installed};
    let refuse = |message: &str| {
        Err(InvalidTransition {
            from,
            event,
            message: message.to_owned(),
        })
    };
    match (from, event) {
        (Installed | Disabled | Failed, Event::Enable) => Ok(Enabled),
        // Enabling twice is harmless and keeps scripts idempotent.
        (Enabled, Event::Enable) => Ok(Enabled),
        (Installed | Enabled | Failed | Disabled, Event::Disable) => Ok(Disabled),
        (Installed | Enabled | Disabled | Failed, Event::HookFailed) => Ok(Failed),
        (Enabled, Event::BreakerTripped) => Ok(Disabled),
        (Installed | Disabled | Failed, Event::BreakerTripped) => {
            refuse("the breaker only trips on an enabled plugin")
        }
        (Enabled, Event::Run) => Ok(Enabled),
        (Installed, Event::Run) => refuse("the plugin is installed but not enabled"),
        (Disabled, Event::Run) => refuse("the plugin is disabled"),
        (Failed, Event::Run) => refuse("the plugin failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATES: [PluginState; 4] = [
        PluginState::Installed,
        PluginState::Enabled,
        PluginState::Disabled,
        PluginState::Failed,
    ];
    const EVENTS: [Event; 5] = [
        Event::Enable,
        Event::Disable,
        Event::HookFailed,
        Event::BreakerTripped,
        Event::Run,
    ];

    /// The whole table, so a change to any transition shows up here.
    #[test]
    fn transition_table() {
        let mut table = String::new();
        for from in STATES {
            for event in EVENTS {
                let to = match next(from, event) {
                    Ok(to) => to.to_string(),
                    Err(_) => "refused".to_owned(),
                };
                table.push_str(&format!("{from} --{event}--> {to}\n"));
            }
        }
        assert_eq!(
            table,
            "\
installed --enable--> enabled
installed --disable--> disabled
installed --hook failure--> failed
installed --breaker trip--> refused
installed --run--> refused
enabled --enable--> enabled
enabled --disable--> disabled
enabled --hook failure--> failed
enabled --breaker trip--> disabled
enabled --run--> enabled
disabled --enable--> enabled
disabled --disable--> disabled
disabled --hook failure--> failed
disabled --breaker trip--> refused
disabled --run--> refused
failed --enable--> enabled
failed --disable--> disabled
failed --hook failure--> failed
failed --breaker trip--> refused
failed --run--> refused
"
        );
    }
}
