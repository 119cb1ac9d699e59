//! Benchmark fixture: `bench-noop` measures the cost of a call itself;
//! `bench-work ITERATIONS` does a fixed amount of pure computation, so the
//! benchmarks can compare a call doing real work through the host and bare;
//! `bench-shared ITERATIONS` sets and reads a shared value that many times,
//! to compare the host's shared-state interface with a bare host call;
//! `bench-upper TEXT` returns TEXT in capitals, the smallest call that
//! carries data both ways (the embedding figures call it with "hello
//! world"); `bench-bump` shows what an instance inherits from the one that
//! held its memory slot before (nothing, in a fresh one).

use std::sync::atomic::{AtomicU64, Ordering};

use lord_pdk::{Command, Event, Plugin, shared};

/// Events received by this instance (`bench-events` reports it).
static EVENTS: AtomicU64 = AtomicU64::new(0);

/// Starts at 41 in the module's data: a fresh instance's first
/// `bench-bump` prints 42 only if its memory was restored from the image.
static BUMPS: AtomicU64 = AtomicU64::new(41);

/// Bytes `bench-bump` asks for zeroed and then writes over: more than the
/// initial heap, so the memory grows into pages a previous instance wrote.
const BUMP_BYTES: usize = 640 << 10;

/// `bench-bump`: fails if memory the allocator believes fresh (and so does
/// not clear) holds anything but zeros, then dirties it and counts.
fn bump() -> Result<String, String> {
    let mut fresh = vec![0u8; BUMP_BYTES];
    if let Some(at) = fresh.iter().position(|&b| b != 0) {
        return Err(format!(
            "memory handed out as zeroed holds {:#x} at byte {at}",
            fresh[at]
        ));
    }
    fresh.fill(0xA5);
    let kept = fresh.iter().map(|&b| u64::from(b)).sum::<u64>();
    Ok(format!(
        "{} {kept}\n",
        BUMPS.fetch_add(1, Ordering::Relaxed) + 1
    ))
}

struct Bench;

/// A splitmix64 round: cheap, and impossible to fold away at compile time
/// because the count comes from the caller.
fn mix(iterations: u64) -> u64 {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..iterations {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15 ^ i);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x = z ^ (z >> 31);
    }
    x
}

impl Plugin for Bench {
    fn run_command(command: Command) -> Result<String, String> {
        match command.name.as_str() {
            "bench-noop" => Ok(String::new()),
            "bench-work" => {
                let iterations: u64 = command
                    .arg("iterations")
                    .ok_or("missing ITERATIONS")?
                    .parse()
                    .map_err(|e| format!("ITERATIONS must be a whole number: {e}"))?;
                Ok(format!("{}\n", mix(iterations)))
            }
            "bench-shared" => {
                let rounds: u64 = command
                    .arg("iterations")
                    .ok_or("missing ITERATIONS")?
                    .parse()
                    .map_err(|e| format!("ITERATIONS must be a whole number: {e}"))?;
                let mut seen = 0u64;
                for round in 0..rounds {
                    shared::set("bench.k", &round.to_le_bytes())?;
                    seen += shared::get("bench.k")?.map_or(0, |v| v.value.len() as u64);
                }
                Ok(format!("{seen}\n"))
            }
            "bench-upper" => Ok(command.arg("text").unwrap_or_default().to_uppercase()),
            "bench-events" => Ok(format!("{}\n", EVENTS.load(Ordering::Relaxed))),
            "bench-bump" => bump(),
            other => Err(format!("bench has no command `{other}`")),
        }
    }

    fn handle_event(event: Event) -> Result<(), String> {
        // Touch the payload so the delivery is not optimised to nothing.
        if event.payload.is_null() {
            return Err("empty event".to_owned());
        }
        EVENTS.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

lord_pdk::export_plugin!(Bench);
