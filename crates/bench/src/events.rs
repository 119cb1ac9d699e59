//! Event throughput: publishing on the bus to a native subscriber that
//! drains its queue, as a CLI embedding the library would subscribe; and to
//! a WASM subscriber, each event handed to the bench plugin's
//! `handle-event` on a warm instance, as lord delivers after a command.

use anyhow::{Result, ensure};
use lord_host::lord_state::{EventBus, Propagation};
use lord_manifest::Topic;
use serde_json::json;

use lord_sandbox::{Grants, Limits, Links, Sandbox};

use crate::fixtures::{self, Plugins};
use crate::timing::{self, Plan, Samples};

/// Events per measured burst for the WASM subscriber.
pub(crate) const WASM_BURST: u64 = 100;

/// Events per measured iteration: one publish each, then one drain.
pub(crate) const BURST: u64 = 1_000;

/// Time per burst of `BURST` events published and received.
pub(crate) async fn measure(plan: Plan) -> Result<Samples> {
    let bus = EventBus::new();
    let pattern = Topic::pattern("bench.*").map_err(anyhow::Error::msg)?;
    let topic = Topic::concrete("bench.tick").map_err(anyhow::Error::msg)?;
    let capacity = usize::try_from(BURST)?;
    let mut subscriber = bus.subscribe("bench", &pattern, None, capacity);
    let payload = json!({ "n": 1 });
    eprintln!("lord-bench: events: native subscriber ...");
    let samples = timing::single(plan, async || {
        for _ in 0..BURST {
            bus.publish(&topic, "bench", Propagation::Local, payload.clone(), false)?;
        }
        let mut received = 0;
        while subscriber.try_recv().is_some() {
            received += 1;
        }
        ensure!(received == BURST, "received {received} of {BURST} events");
        Ok(())
    })
    .await?;
    ensure!(
        subscriber.stats().dropped == 0,
        "the subscriber dropped events"
    );
    Ok(samples)
}

/// Events per second from the median time of a burst.
pub(crate) fn per_second(samples: &Samples) -> f64 {
    BURST as f64 * 1e9 / samples.median_ns()
}

/// Time per burst of `WASM_BURST` events published, drained and handled
/// by the bench plugin's `handle-event`.
pub(crate) async fn measure_wasm(plugins: &Plugins, plan: Plan) -> Result<Samples> {
    let scratch = tempfile::tempdir()?;
    let sandbox = Sandbox::new(&scratch.path().join("cache"))?;
    let (manifest, compiled) = fixtures::bench_prepared(plugins, &sandbox)?;
    let mut instance = compiled
        .instantiate(
            &Grants::default(),
            Limits::from_manifest(&manifest.limits),
            &Links::default(),
        )
        .await?;

    let bus = EventBus::new();
    let pattern = Topic::pattern("bench.*").map_err(anyhow::Error::msg)?;
    let topic = Topic::concrete("bench.tick").map_err(anyhow::Error::msg)?;
    let mut subscriber = bus.subscribe("bench", &pattern, None, usize::try_from(WASM_BURST)?);
    let payload = json!({ "n": 1 });
    eprintln!("lord-bench: events: WASM subscriber ...");
    let samples = timing::single(plan, async || {
        for _ in 0..WASM_BURST {
            bus.publish(&topic, "bench", Propagation::Local, payload.clone(), false)?;
        }
        let mut handled = 0;
        while let Some(event) = subscriber.try_recv() {
            instance.handle_event(&event).await?;
            handled += 1;
        }
        ensure!(
            handled == WASM_BURST,
            "handled {handled} of {WASM_BURST} events"
        );
        Ok(())
    })
    .await?;
    Ok(samples)
}

/// WASM-delivered events per second from the median time of a burst.
pub(crate) fn wasm_per_second(samples: &Samples) -> f64 {
    WASM_BURST as f64 * 1e9 / samples.median_ns()
}
