//! Neutralising a plugin's output on its way to a terminal, against writing
//! it as it is: 1 MiB of mixed plugin output (ASCII lines, colour, tabs,
//! CRLF, text in other scripts and emoji, and now and then a sequence that
//! must be escaped) through `lord-terminal`'s terminal path (what the CLI's
//! renderer runs for a plugin's stdout on a TTY), and through a plain copy
//! (what it does when the output is piped). Both end in a write to a sink,
//! so the figures are the renderer's own cost. Throughput in MB/s (10^6
//! bytes of plugin output per second).

use std::io::Write as _;

use anyhow::Result;
use lord_terminal::{Policy, escape};

use crate::timing::{self, Pair, Plan};

/// The size of the output each iteration renders.
pub(crate) const BYTES: usize = 1 << 20;

/// What the two paths measured: `subject` the terminal path, `baseline`
/// the raw write.
#[derive(Debug, Clone)]
pub(crate) struct RenderResults {
    pub(crate) pair: Pair,
}

impl RenderResults {
    /// The terminal path's throughput.
    pub(crate) fn sanitise_mb_per_s(&self) -> f64 {
        mb_per_s(self.pair.subject.median_ns())
    }

    /// The raw write's throughput.
    pub(crate) fn raw_mb_per_s(&self) -> f64 {
        mb_per_s(self.pair.baseline.median_ns())
    }
}

fn mb_per_s(ns_per_iteration: f64) -> f64 {
    // Bytes per nanosecond is GB/s; times 1000 is MB/s.
    BYTES as f64 / ns_per_iteration * 1e3
}

/// Plugin output as plugins write it: mostly plain lines, some coloured,
/// some in other scripts, one line in sixteen with a sequence lord escapes.
pub(crate) fn mixed_output() -> Vec<u8> {
    const LINES: [&[u8]; 8] = [
        b"2026-01-04T10:00:00Z INFO  request handled in 12 ms path=/api/v1/items status=200\n",
        b"\x1b[32mok\x1b[0m   tests::parse_manifest_with_all_tables ... \x1b[1mpassed\x1b[0m\r\n",
        b"name\tversion\tsize\tdescription of what the package does, in a few words\n",
        "r\u{e9}sum\u{e9} caf\u{e9} na\u{ef}ve \u{65e5}\u{672c}\u{8a9e}\u{306e}\u{30c6}\u{30ad}\u{30b9}\u{30c8} \u{645}\u{631}\u{62d}\u{628}\u{627} \u{1f44d}\u{1f3fd}\n".as_bytes(),
        b"    at src/server/handler.rs:120:17 in fn handle_request(&self, req: Request)\n",
        b"\x1b[1;33mwarning\x1b[0m: unused variable `count` in crate::report::rows\n",
        b"{\"id\":\"notes\",\"version\":\"1.2.3\",\"downloads\":12345,\"verified\":true}\n",
        b"progress 50%\rprogress 100%\n",
    ];
    const HOSTILE: &[u8] = b"\x1b]0;title\x07\x1b[1A\x1b[2Kline rewritten by the plugin\n";
    let mut out = Vec::with_capacity(BYTES + 256);
    let mut n = 0usize;
    while out.len() < BYTES {
        if n % 16 == 15 {
            out.extend_from_slice(HOSTILE);
        } else {
            out.extend_from_slice(LINES[n % LINES.len()]);
        }
        n += 1;
    }
    out.truncate(BYTES);
    out
}

pub(crate) async fn measure(plan: Plan) -> Result<RenderResults> {
    let input = mixed_output();
    let mut sanitised = Vec::with_capacity(BYTES * 2);
    let mut copied = Vec::with_capacity(BYTES);
    let mut sink = std::io::sink();
    let mut sink_raw = std::io::sink();
    let pair = timing::interleaved(
        plan,
        async || {
            sanitised.clear();
            let report = escape(
                std::hint::black_box(&input),
                Policy::PluginOutput,
                &mut sanitised,
            );
            if report.kept_colour() {
                sanitised.extend_from_slice(b"\x1b[0m");
            }
            sink.write_all(std::hint::black_box(&sanitised))?;
            Ok(())
        },
        async || {
            copied.clear();
            copied.extend_from_slice(std::hint::black_box(&input));
            sink_raw.write_all(std::hint::black_box(&copied))?;
            Ok(())
        },
    )
    .await?;
    Ok(RenderResults { pair })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mixed_output_is_one_mib_and_has_something_to_escape() {
        let input = mixed_output();
        assert_eq!(input.len(), BYTES);
        let mut out = Vec::new();
        let report = escape(&input, Policy::PluginOutput, &mut out);
        assert!(report.kept_colour());
        assert!(!report.is_clean());
    }
}
