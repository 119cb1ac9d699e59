//! Hostile fixture: holds memory through shared values. It writes 200
//! values of 8 MiB to its one granted key (the size limit must refuse
//! them), and holds a value within that limit while storing data of its
//! own (the shared value must count against its data quota).

use lord_pdk::{Command, Plugin, data, shared};

struct SharedBomb;

const KEY: &str = "sharedbomb.blob";

impl Plugin for SharedBomb {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            "sharedbomb" => {
                let value = vec![7u8; 8 * 1024 * 1024];
                for n in 0..200 {
                    shared::set(KEY, &value).map_err(|e| format!("value {n} refused: {e}"))?;
                }
                Ok("BOMB: 200 values of 8 MiB were kept\n".to_owned())
            }
            "sharedbomb-quota" => {
                shared::set(KEY, &vec![1u8; 60 * 1024])?;
                data::set("own", &vec![2u8; 60 * 1024], false)?;
                Ok("QUOTA: 120 KiB held under a 100 KiB quota\n".to_owned())
            }
            other => Err(format!("no command `{other}`")),
        }
    }
}

lord_pdk::export_plugin!(SharedBomb);
