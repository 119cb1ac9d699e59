//! Hostile fixture: floods events run after run. Each run publishes up to
//! 1000 small events, stops at the first refusal and still succeeds
//! (so its breaker never trips, and only its quota can stop it). Its
//! events-per-minute quota must refuse it with words naming the quota, and
//! lord must disable it after refusing it often enough.

use lord_pdk::events::{self, Propagation};
use lord_pdk::serde_json::json;
use lord_pdk::{Command, Plugin};

struct QuotaFlood;

impl Plugin for QuotaFlood {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            "quotaflood" => {
                let mut published = 0u32;
                while published < 1000 {
                    let payload = json!({ "n": published });
                    if let Err(refused) =
                        events::publish("quotaflood.tick", &payload, Propagation::Local)
                    {
                        return Ok(format!("published {published}; refused: {refused}\n"));
                    }
                    published += 1;
                }
                Ok(format!("published {published}; never refused\n"))
            }
            other => Err(format!("no command `{other}`")),
        }
    }
}

lord_pdk::export_plugin!(QuotaFlood);
