//! Trends and insights over real HTTP, on both backends: a rising error
//! rate, a plugin abandoned (no release in a year *and* an open report,
//! while an old plugin whose report a moderator settled is not), and
//! permission creep, per plugin and registry-wide, as JSON and as pages.

use lord_registry::Scope;
use lord_registry_api::{Insight, InsightKind, RegistryInsights};
use lord_registry_client::{PluginUsage, UsageReport};

use crate::web::{page, publish_at};
use crate::{Backend, Running};

const DAY_MS: i64 = 86_400_000;

fn account(r: &Running, scope: &str, name: &str) -> String {
    r.registry
        .db
        .create_named_token(&Scope::parse(scope).expect("scope"), name)
        .expect("token")
}

/// One installation's use of `id` on `day`.
fn used(r: &Running, installation: &str, id: &str, day: i64, runs: u64, errors: u64) {
    r.registry
        .db
        .record_usage_on(
            &UsageReport {
                installation: installation.to_owned(),
                host_api: "0.2.1".to_owned(),
                plugins: vec![PluginUsage {
                    id: id.to_owned(),
                    version: "0.1.0".to_owned(),
                    runs,
                    errors,
                    p95_us: None,
                }],
            },
            day,
        )
        .expect("usage");
}

/// A reported post on `id` by a fresh account; a moderator settles the
/// report when `settled`.
fn reported_post(r: &Running, id: &str, settled: bool) {
    let author = account(r, "account", "poster");
    let reporter = account(r, "account", "reporter");
    let post = r
        .runtime
        .block_on(r.client.post(&author, id, "It stopped working for me."))
        .expect("post");
    r.runtime
        .block_on(r.client.report(&reporter, "post", post.id, "off topic"))
        .expect("report");
    if settled {
        let moderator = account(r, "moderate", "mia");
        r.runtime
            .block_on(
                r.client
                    .moderate(&moderator, "post", post.id, false, "it is on topic"),
            )
            .expect("moderate");
    }
}

fn json<T: serde::de::DeserializeOwned>(r: &Running, path: &str) -> T {
    serde_json::from_str(&page(r, path)).expect("json")
}

fn plugins(list: &[Insight]) -> Vec<&str> {
    list.iter().map(|i| i.plugin.as_str()).collect()
}

pub(crate) fn insights_name_rising_errors_abandoned_plugins_and_permission_creep(backend: Backend) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    for id in [
        "steady",
        "flaky",
        "old-quiet",
        "old-settled",
        "old-reported",
    ] {
        publish_at(&r, id, "0.1.0", "utility", &[], "");
    }
    publish_at(&r, "creeping", "0.1.0", "utility", &[], "");
    publish_at(&r, "creeping", "0.2.0", "utility", &["net(*)"], "");

    // The registry's day: UTC days since 1970.
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).expect("ms") / DAY_MS)
        .expect("clock");
    for n in 0..3 {
        let installation = format!("installation-{n:04}-abcdef");
        used(&r, &installation, "steady", today - 10, 100, 2);
        used(&r, &installation, "steady", today - 2, 100, 2);
        used(&r, &installation, "flaky", today - 10, 100, 1);
        used(&r, &installation, "flaky", today - 2, 100, 12);
    }

    let long_ago = (today - 400) * DAY_MS;
    for id in ["old-quiet", "old-settled", "old-reported"] {
        assert!(
            r.registry
                .db
                .backdate(id, "0.1.0", long_ago)
                .expect("backdate")
        );
    }
    reported_post(&r, "old-settled", true);
    reported_post(&r, "old-reported", false);

    let all: RegistryInsights = json(&r, "/api/v1/insights");
    assert_eq!(plugins(&all.rising_errors), ["flaky"], "{all:?}");
    assert_eq!(
        plugins(&all.abandoned),
        ["old-reported"],
        "a year without release is not enough, nor a settled report: {all:?}"
    );
    assert_eq!(plugins(&all.permission_creep), ["creeping"], "{all:?}");
    assert!(
        all.permission_creep[0]
            .text
            .contains("0.2.0 asks for net(*) that 0.1.0 did not"),
        "{all:?}"
    );

    let flaky: Vec<Insight> = json(&r, "/api/v1/plugins/flaky/insights");
    assert_eq!(
        flaky.iter().map(|i| i.kind).collect::<Vec<_>>(),
        [InsightKind::RisingErrors]
    );
    assert!(flaky[0].text.contains("12.0 per 100 runs"), "{flaky:?}");
    let steady: Vec<Insight> = json(&r, "/api/v1/plugins/steady/insights");
    assert!(steady.is_empty(), "{steady:?}");

    let wide = page(&r, "/insights");
    for (id, words) in [
        ("flaky", "Error rate rising"),
        ("old-reported", "May be abandoned"),
        ("creeping", "Permission creep"),
    ] {
        assert!(wide.contains(&format!("href=\"/plugins/{id}\"")), "{wide}");
        assert!(wide.contains(words), "{wide}");
    }
    assert!(!wide.contains("href=\"/plugins/old-settled\""), "{wide}");
    let one = page(&r, "/plugins/old-reported");
    assert!(
        one.contains("May be abandoned: no release in over a year, and 1 report waiting"),
        "{one}"
    );
}
