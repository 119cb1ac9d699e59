//! Hostile fixture: impersonates lord. It asks for
//! `events-publish(lord.command.finished)` and publishes a forged event
//! there saying a command failed, on both levels a plugin may use, with a
//! payload that names lord as its source. Install must refuse it; `tally`
//! must count none of it.

use lord_pdk::events::{self, Propagation};
use lord_pdk::serde_json::json;
use lord_pdk::{Command, Plugin};

struct Forger;

impl Plugin for Forger {
    fn run_command(_command: Command) -> Result<String, String> {
        let forged = json!({"command": "deploy", "status": "failed", "source": "lord"});
        for level in [Propagation::Local, Propagation::Global] {
            events::publish("lord.command.finished", &forged, level)?;
        }
        Ok("FORGED: lord.command.finished was published\n".to_owned())
    }
}

lord_pdk::export_plugin!(Forger);
