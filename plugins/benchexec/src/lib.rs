//! Benchmark fixture: `benchexec-git` runs `git --version` through
//! `lord:plugin/exec` and returns what it printed, so the bench can set it
//! beside the same program spawned directly (`exec_overhead_ms`).

use lord_pdk::exec::Command as Exec;
use lord_pdk::{Command, Plugin};

struct BenchExec;

impl Plugin for BenchExec {
    fn run_command(_command: Command) -> Result<String, String> {
        let out = Exec::new("git").arg("--version").run()?;
        if !out.success() {
            return Err(out.stderr_text());
        }
        Ok(out.stdout_text())
    }
}

lord_pdk::export_plugin!(BenchExec);
