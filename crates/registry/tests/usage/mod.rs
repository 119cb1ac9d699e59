//! Opt-in use reports and recommendations over real HTTP, on both
//! backends: co-installed plugins are recommended first, nothing already
//! installed is, the plugin page shows the panel and the active count, and
//! (SQLite, whose file the test can read) no installation id is stored.

use lord_registry_client::{PluginUsage, RecommendationQuery, UsageReport};

use crate::{Backend, Running, Spec};

fn report(r: &Running, installation: &str, plugins: &[&str]) {
    r.runtime
        .block_on(
            r.client.report_usage(&UsageReport {
                installation: installation.to_owned(),
                host_api: "0.2.1".to_owned(),
                plugins: plugins
                    .iter()
                    .map(|id| PluginUsage {
                        id: (*id).to_owned(),
                        version: "0.1.0".to_owned(),
                        runs: 10,
                        errors: 1,
                        p95_us: None,
                    })
                    .collect(),
            }),
        )
        .expect("report");
}

pub(crate) fn co_installed_plugins_are_recommended_and_installations_stay_anonymous(
    backend: Backend,
) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    for (id, category, keywords) in [
        ("git-log", "development", &["git", "history"][..]),
        ("git-blame", "development", &["git", "lines"][..]),
        ("csv-view", "data", &["csv", "table"][..]),
        ("csv-sort", "data", &["csv", "sort"][..]),
    ] {
        r.publish(&Spec {
            id,
            category,
            keywords,
            description: "A plugin.",
            ..Spec::default()
        })
        .expect("publish");
    }
    for n in 0..5 {
        report(
            &r,
            &format!("installation-git-{n:04}"),
            &["git-log", "git-blame"],
        );
    }
    for n in 0..3 {
        report(
            &r,
            &format!("installation-csv-{n:04}"),
            &["csv-view", "csv-sort", "unknown-one"],
        );
    }
    let asked = r
        .runtime
        .block_on(r.client.recommendations(&RecommendationQuery {
            installed: "git-log".to_owned(),
            ..RecommendationQuery::default()
        }))
        .expect("recommendations");
    assert_eq!(
        asked.first().map(|s| s.id.as_str()),
        Some("git-blame"),
        "{asked:?}"
    );
    assert_eq!(asked[0].because.as_deref(), Some("git-log"));
    assert!(asked.iter().all(|s| s.id != "git-log"), "{asked:?}");

    // A malformed installation id is refused.
    let bad = r.runtime.block_on(r.client.report_usage(&UsageReport {
        installation: "me".to_owned(),
        host_api: "0.2.1".to_owned(),
        plugins: Vec::new(),
    }));
    assert!(bad.is_err());

    let page = crate::web::page(&r, "/plugins/git-log");
    assert!(
        page.contains("People who use it also use, and plugins like it"),
        "{page}"
    );
    assert!(page.contains("href=\"/plugins/git-blame\""), "{page}");
    assert!(page.contains("5 installations reported using it"), "{page}");
    assert!(page.contains("10.0 errors per 100 runs"), "{page}");

    if matches!(backend, Backend::Sqlite) {
        let file = rusqlite::Connection::open(r.data_path().join("registry.db")).expect("db");
        let stored: Vec<String> = file
            .prepare("SELECT DISTINCT installation FROM usage")
            .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect())
            .expect("rows");
        assert_eq!(stored.len(), 8);
        assert!(
            stored
                .iter()
                .all(|h| !h.contains("installation") && h.len() == 64),
            "{stored:?}"
        );
        let salts: i64 = file
            .query_row("SELECT COUNT(*) FROM usage_salts", [], |row| row.get(0))
            .expect("salts");
        assert_eq!(salts, 1, "only today's salt is kept");
    }
}
