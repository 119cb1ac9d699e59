//! Test fixture: reports, one line per check, what its grants let it reach.
//! Granted: `fs-write($PLUGIN_DATA)`, `fs-read($PROJECT)` and
//! `env(LORD_PROBE_VISIBLE)`. Everything else must be out of reach.

use lord_pdk::{Command, Plugin};

struct Probe;

fn line(label: &str, outcome: Result<String, String>) -> String {
    match outcome {
        Ok(detail) => format!("{label}: ok {detail}\n"),
        Err(e) => format!("{label}: refused {e}\n"),
    }
}

impl Plugin for Probe {
    fn run_command(_command: Command) -> Result<String, String> {
        let mut out = String::new();
        out += &line(
            "data-write",
            std::fs::write("/data/probe.txt", b"written by probe")
                .map(|()| String::new())
                .map_err(|e| e.to_string()),
        );
        out += &line(
            "data-read",
            std::fs::read_to_string("/data/probe.txt").map_err(|e| e.to_string()),
        );
        out += &line(
            "project-read",
            std::fs::read_to_string("/project/marker.txt").map_err(|e| e.to_string()),
        );
        out += &line(
            "project-write",
            std::fs::write("/project/written-by-probe.txt", b"x")
                .map(|()| String::new())
                .map_err(|e| e.to_string()),
        );
        out += &line(
            "env-visible",
            std::env::var("LORD_PROBE_VISIBLE").map_err(|e| e.to_string()),
        );
        out += &line(
            "env-hidden",
            std::env::var("LORD_PROBE_HIDDEN").map_err(|e| e.to_string()),
        );
        out += &line("env-count", Ok(std::env::vars().count().to_string()));
        out += &line("args-count", Ok(std::env::args().count().to_string()));
        Ok(out)
    }
}

lord_pdk::export_plugin!(Probe);
