//! A fresh instance inherits nothing from the one that held its memory
//! slot before: the pooled allocator's reset (pages found written by the
//! kernel's scan and restored in place, where the kernel offers the scan)
//! must leave the module's data as its image says and every page past the
//! initial memory zeroed. The `bench` fixture's `bench-bump` counts from
//! 41 in its data section and fails if memory its allocator trusts to be
//! zero (grown, never cleared) is not; each run writes 640 KiB.

use std::time::Duration;

use lord_sandbox::{Grants, Invocation, Links};

use crate::{compile, limits};

const BENCH: &[&str] = &["state-shared(bench.k)", "events-subscribe(bench.*)"];

/// What `bench-bump` prints on its `n`th call in one instance.
fn bumped(n: u64) -> String {
    format!("{} {}\n", 41 + n, (640u64 << 10) * 0xA5)
}

fn bump() -> Invocation {
    Invocation {
        command: "bench-bump".to_owned(),
        args: Vec::new(),
    }
}

#[tokio::test]
async fn a_fresh_instance_starts_from_the_image_in_a_slot_another_wrote() {
    let (_cache, _sandbox, compiled) = compile("bench", BENCH);
    let grants = Grants::default();
    let links = Links::default();
    let limits = limits(Duration::from_secs(10));

    // The counter does count within one instance, so a reset that kept the
    // last instance's data would show.
    let mut kept = compiled
        .instantiate(&grants, limits, &links)
        .await
        .expect("instance");
    for n in 1..=3 {
        let (text, _) = kept.run_command(&bump()).await.expect("bump");
        assert_eq!(text, bumped(n), "call {n} in one instance");
    }
    drop(kept);

    // Instances one after another reuse the slot the last one dirtied.
    for round in 0..20 {
        let mut fresh = compiled
            .instantiate(&grants, limits, &links)
            .await
            .expect("instance");
        let (text, _) = fresh
            .run_command(&bump())
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(text, bumped(1), "round {round}: a fresh instance");
    }
}
