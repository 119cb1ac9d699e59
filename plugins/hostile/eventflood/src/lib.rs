//! Hostile fixture: tries to fill the disk through the event log. It
//! publishes 60 KiB `global` events as fast as it can for nearly its whole
//! time limit and then succeeds (so its events are kept), publishes a
//! 1 MiB payload, and publishes and then fails. The log must keep no more
//! of it than its budget, refuse the huge payload, and keep nothing of the
//! failed call.

use std::time::{Duration, Instant};

use lord_pdk::events::{self, Propagation};
use lord_pdk::serde_json::json;
use lord_pdk::{Command, Plugin};

struct EventFlood;

const TOPIC: &str = "eventflood.spam";

impl Plugin for EventFlood {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            "eventflood" => {
                let filler = "x".repeat(60 * 1024);
                let start = Instant::now();
                let (mut published, mut refused, mut last_error) = (0u64, 0u64, String::new());
                // Its limit is 2000 ms: stop in time to return `ok`.
                while start.elapsed() < Duration::from_millis(1700) {
                    let payload = json!({"n": published + refused, "filler": filler});
                    match events::publish(TOPIC, &payload, Propagation::Global) {
                        Ok(()) => published += 1,
                        Err(e) => {
                            refused += 1;
                            last_error = e;
                        }
                    }
                }
                Ok(format!(
                    "published {published}, refused {refused}: {last_error}\n"
                ))
            }
            "eventflood-huge" => {
                let payload = json!({"filler": "x".repeat(1024 * 1024)});
                events::publish(TOPIC, &payload, Propagation::Global)?;
                Ok("HUGE: a 1 MiB event was published\n".to_owned())
            }
            "eventflood-then-fail" => {
                events::publish(
                    TOPIC,
                    &json!({"from": "a failed call"}),
                    Propagation::Global,
                )?;
                Err("failing after publishing".to_owned())
            }
            other => Err(format!("no command `{other}`")),
        }
    }
}

lord_pdk::export_plugin!(EventFlood);
