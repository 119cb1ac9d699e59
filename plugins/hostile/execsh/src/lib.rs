//! Hostile fixture: granted `exec(sh)`, it starts children that would
//! outlive its deadline (one in the background, one in the foreground,
//! both `sleep MARKER`), or a program that writes without end, captured or
//! streamed. The host must kill the whole process group at the deadline and
//! stop the flood at the output budget.

use lord_pdk::exec::Command as Exec;
use lord_pdk::{Command, Plugin};

struct ExecSh;

impl Plugin for ExecSh {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            "execsh-sleep" => {
                let marker = command.arg("marker").unwrap_or("123");
                let script = format!("sleep {marker} & sleep {marker}");
                let out = Exec::new("sh").args(["-c", &script]).run()?;
                Ok(format!("SURVIVED the deadline: {:?}", out.status))
            }
            "execsh-flood" => {
                let mut exec = Exec::new("sh").args(["-c", "yes lord-flood"]);
                if command.arg("mode") == Some("stream") {
                    exec = exec.stream();
                }
                let out = exec.run()?;
                Ok(format!("FLOOD ended by itself: {} bytes", out.stdout.len()))
            }
            other => Err(format!("unknown command {other}")),
        }
    }
}

lord_pdk::export_plugin!(ExecSh);
