//! What a plugin's time is charged to: its per-minute quotas count every
//! moment its code runs, start-up included.

use std::time::Duration;

use lord_sandbox::{Grants, Links};

use crate::{compile, limits};

/// Instantiating runs the component's start-up code, the plugin's time as
/// much as any call's: it is charged to the plugin's CPU quota, so work
/// done there is not out of the quota's sight. (The fixture's start-up is
/// short; many instances add up to milliseconds.)
#[tokio::test]
async fn instantiation_is_charged_to_the_cpu_quota() {
    let (_cache, _sandbox, compiled) = compile(
        "bench",
        &["state-shared(bench.k)", "events-subscribe(bench.*)"],
    );
    let home = tempfile::tempdir().expect("home");
    let quotas = lord_state::Quotas::new(lord_state::StateDb::at(home.path()));
    let quota = quotas.plugin("bench", lord_state::QuotaLimits::default());
    let links = Links::default().with(quota.clone());
    let limits = limits(Duration::from_secs(10));
    let mut rounds = 0;
    while quota.used(lord_state::QuotaKind::CpuMs) == 0 {
        rounds += 1;
        assert!(rounds <= 100_000, "100,000 instances charged nothing");
        drop(
            compiled
                .instantiate(&Grants::default(), limits, &links)
                .await
                .expect("instance"),
        );
    }
}
