//! Behaviour tests for `lord-resolve`: real resolutions over small
//! hand-written indexes, the wording of conflicts, a large generated graph,
//! and the `VersionReq` → range translation checked against `semver` itself.

use std::collections::BTreeMap;

use lord_manifest::PluginId;
use lord_resolve::{Candidate, Index, Resolution, ResolveError, range_of, resolve};
use semver::{Version, VersionReq};

type Catalog = BTreeMap<PluginId, Vec<Candidate>>;

fn id(text: &str) -> PluginId {
    text.parse().expect("test plugin id is valid")
}

fn v(text: &str) -> Version {
    Version::parse(text).expect("test version parses")
}

fn req(text: &str) -> VersionReq {
    VersionReq::parse(text).expect("test requirement parses")
}

/// The host API every test lord has unless a test says otherwise.
fn host() -> Version {
    v("0.2.0")
}

/// Adds one version to `catalog`, compatible with host API ^0.2.
fn publish(catalog: &mut Catalog, plugin: &str, version: &str, deps: &[(&str, &str)]) {
    publish_full(catalog, plugin, version, "^0.2", deps, false);
}

fn publish_full(
    catalog: &mut Catalog,
    plugin: &str,
    version: &str,
    host_api: &str,
    deps: &[(&str, &str)],
    yanked: bool,
) {
    catalog.entry(id(plugin)).or_default().push(Candidate {
        version: v(version),
        host_api: req(host_api),
        dependencies: deps.iter().map(|(d, r)| (id(d), req(r))).collect(),
        yanked,
    });
}

fn requests(list: &[(&str, &str)]) -> Vec<(PluginId, VersionReq)> {
    list.iter().map(|(p, r)| (id(p), req(r))).collect()
}

fn chosen(resolution: &Resolution) -> Vec<(String, String)> {
    resolution
        .versions
        .iter()
        .map(|(p, ver)| (p.to_string(), ver.to_string()))
        .collect()
}

fn conflict(result: Result<Resolution, ResolveError>) -> String {
    match result {
        Ok(resolution) => panic!("expected a conflict, got {resolution:?}"),
        Err(ResolveError::Conflict(message)) => {
            eprintln!("{message}\n");
            message
        }
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn diamond_picks_the_newest_base_both_sides_accept() {
    let mut catalog = Catalog::new();
    publish(
        &mut catalog,
        "app",
        "1.0.0",
        &[("left", "^1"), ("right", "^1")],
    );
    publish(&mut catalog, "left", "1.0.0", &[("base", "^1.2")]);
    publish(&mut catalog, "right", "1.0.0", &[("base", ">=1.0, <1.5")]);
    for version in ["1.0.0", "1.3.0", "1.6.0", "2.0.0"] {
        publish(&mut catalog, "base", version, &[]);
    }
    let resolution = resolve(&requests(&[("app", "*")]), &catalog, &host()).expect("resolves");
    assert_eq!(
        chosen(&resolution),
        pairs(&[
            ("app", "1.0.0"),
            ("base", "1.3.0"),
            ("left", "1.0.0"),
            ("right", "1.0.0"),
        ])
    );
    assert!(resolution.skipped.is_empty(), "{:?}", resolution.skipped);
}

#[test]
fn newest_compatible_wins_and_a_newer_host_incompatible_one_is_reported() {
    let mut catalog = Catalog::new();
    // Listed out of order on purpose: the index promises no order.
    publish(&mut catalog, "tally", "1.1.0", &[]);
    publish_full(&mut catalog, "tally", "2.0.0", "^0.3", &[], false);
    publish(&mut catalog, "tally", "1.4.2", &[]);
    publish(&mut catalog, "tally", "1.0.0", &[]);
    let resolution = resolve(&requests(&[("tally", "*")]), &catalog, &host()).expect("resolves");
    assert_eq!(chosen(&resolution), pairs(&[("tally", "1.4.2")]));
    assert_eq!(
        resolution.skipped,
        vec!["tally 2.0.0 skipped: it needs host API ^0.3, this lord has 0.2.0".to_owned()]
    );

    // A newer host moves the choice to 2.0.0 and skips nothing.
    let resolution =
        resolve(&requests(&[("tally", "*")]), &catalog, &v("0.3.1")).expect("resolves");
    assert_eq!(chosen(&resolution), pairs(&[("tally", "2.0.0")]));
    // 1.x needs ^0.2, but it is older than the choice, so it is no news.
    assert!(resolution.skipped.is_empty(), "{:?}", resolution.skipped);
}

#[test]
fn skipped_lists_only_versions_the_requirements_would_have_allowed() {
    let mut catalog = Catalog::new();
    publish(&mut catalog, "tally", "1.0.0", &[]);
    publish_full(&mut catalog, "tally", "1.2.0", "^0.3", &[], false);
    publish_full(&mut catalog, "tally", "2.0.0", "^0.3", &[], false);
    let resolution = resolve(&requests(&[("tally", "^1")]), &catalog, &host()).expect("resolves");
    assert_eq!(chosen(&resolution), pairs(&[("tally", "1.0.0")]));
    // 2.0.0 is outside ^1, so the user would not have expected it.
    assert_eq!(
        resolution.skipped,
        vec!["tally 1.2.0 skipped: it needs host API ^0.3, this lord has 0.2.0".to_owned()]
    );
}

#[test]
fn incompatible_ranges_of_a_shared_dependency_are_explained() {
    let mut catalog = Catalog::new();
    publish(&mut catalog, "notes", "1.0.0", &[("tally", "^1")]);
    publish(&mut catalog, "report", "1.0.0", &[("tally", "^2")]);
    for version in ["1.0.0", "1.5.0", "2.0.0"] {
        publish(&mut catalog, "tally", version, &[]);
    }
    let message = conflict(resolve(
        &requests(&[("notes", "^1"), ("report", "^1")]),
        &catalog,
        &host(),
    ));
    eprintln!("{message}");
    for needle in ["notes", "report", "tally ^1", "tally ^2"] {
        assert!(
            message.contains(needle),
            "missing {needle:?} in:\n{message}"
        );
    }
    assert!(
        message.contains("notes 1.0.0 depends on tally ^1"),
        "{message}"
    );
    assert!(
        message.contains("report 1.0.0 depends on tally ^2"),
        "{message}"
    );
    assert!(message.contains("you requested"), "{message}");
    // Plain sentences, not PubGrub's debug output or set notation.
    for raw in ["Not", "∅", "Derived", "External", "Root", "|"] {
        assert!(!message.contains(raw), "raw {raw:?} in:\n{message}");
    }
}

#[test]
fn an_unknown_plugin_is_named() {
    let mut catalog = Catalog::new();
    publish(&mut catalog, "notes", "1.0.0", &[]);
    let message = conflict(resolve(
        &requests(&[("notes", "*"), ("ghost", "^1")]),
        &catalog,
        &host(),
    ));
    assert!(
        message.contains("no plugin named ghost is published"),
        "{message}"
    );

    // The same through a dependency.
    publish(&mut catalog, "app", "1.0.0", &[("phantom", "*")]);
    let message = conflict(resolve(&requests(&[("app", "*")]), &catalog, &host()));
    assert!(
        message.contains("no plugin named phantom is published"),
        "{message}"
    );
    assert!(
        message.contains("app 1.0.0 depends on phantom"),
        "{message}"
    );
}

#[test]
fn every_version_host_incompatible_explains_the_host_api() {
    let mut catalog = Catalog::new();
    publish_full(&mut catalog, "tally", "1.0.0", "^0.3", &[], false);
    publish_full(&mut catalog, "tally", "1.1.0", "^0.4", &[], false);
    let message = conflict(resolve(&requests(&[("tally", "^1")]), &catalog, &host()));
    eprintln!("{message}");
    assert!(
        message.contains("tally 1.1.0 skipped: it needs host API ^0.4, this lord has 0.2.0"),
        "{message}"
    );
    assert!(
        message.contains("tally 1.0.0 skipped: it needs host API ^0.3, this lord has 0.2.0"),
        "{message}"
    );
    assert!(message.contains("tally has no usable version"), "{message}");
}

#[test]
fn a_host_incompatible_dependency_is_explained_through_its_dependent() {
    let mut catalog = Catalog::new();
    publish(&mut catalog, "notes", "1.0.0", &[("tally", "^2")]);
    publish(&mut catalog, "tally", "1.0.0", &[]);
    publish_full(&mut catalog, "tally", "2.0.0", "^0.3", &[], false);
    let message = conflict(resolve(&requests(&[("notes", "*")]), &catalog, &host()));
    eprintln!("{message}");
    assert!(
        message.contains("notes 1.0.0 depends on tally ^2"),
        "{message}"
    );
    assert!(
        message.contains("tally 2.0.0 skipped: it needs host API ^0.3"),
        "{message}"
    );
}

#[test]
fn yanked_versions_are_chosen_only_when_pinned() {
    let mut catalog = Catalog::new();
    publish(&mut catalog, "tally", "1.0.0", &[]);
    publish_full(&mut catalog, "tally", "1.1.0", "^0.2", &[], true);

    let resolution = resolve(&requests(&[("tally", "^1")]), &catalog, &host()).expect("resolves");
    assert_eq!(chosen(&resolution), pairs(&[("tally", "1.0.0")]));
    assert_eq!(
        resolution.skipped,
        vec![
            "tally 1.1.0 skipped: it was yanked, and only a direct request for =1.1.0 may use a yanked version"
                .to_owned()
        ]
    );

    let resolution =
        resolve(&requests(&[("tally", "=1.1.0")]), &catalog, &host()).expect("resolves");
    assert_eq!(chosen(&resolution), pairs(&[("tally", "1.1.0")]));
    assert!(resolution.skipped.is_empty());

    // A range that merely ends at the yanked version is not a pin.
    let message = conflict(resolve(
        &requests(&[("tally", ">=1.1.0, <=1.1.0")]),
        &catalog,
        &host(),
    ));
    assert!(message.contains("it was yanked"), "{message}");

    // Nor is a dependency's exact requirement: only the user pins.
    publish(&mut catalog, "notes", "1.0.0", &[("tally", "=1.1.0")]);
    let message = conflict(resolve(&requests(&[("notes", "*")]), &catalog, &host()));
    assert!(message.contains("it was yanked"), "{message}");

    // A pin does not override the host API.
    publish_full(&mut catalog, "gauge", "1.0.0", "^0.9", &[], true);
    let message = conflict(resolve(
        &requests(&[("gauge", "=1.0.0")]),
        &catalog,
        &host(),
    ));
    assert!(message.contains("needs host API ^0.9"), "{message}");
}

#[test]
fn pre_releases_are_never_chosen() {
    let mut catalog = Catalog::new();
    publish(&mut catalog, "tally", "1.0.0", &[]);
    publish(&mut catalog, "tally", "1.1.0-beta.1", &[]);
    let resolution = resolve(&requests(&[("tally", "*")]), &catalog, &host()).expect("resolves");
    assert_eq!(chosen(&resolution), pairs(&[("tally", "1.0.0")]));

    let mut only_beta = Catalog::new();
    publish(&mut only_beta, "beta", "0.1.0-alpha", &[]);
    let message = conflict(resolve(&requests(&[("beta", "*")]), &only_beta, &host()));
    assert!(
        message.contains("beta has only pre-release versions (never chosen)"),
        "{message}"
    );
}

#[test]
fn repeated_requests_intersect_and_backtracking_finds_older_versions() {
    let mut catalog = Catalog::new();
    for version in ["1.0.0", "1.2.0", "1.4.0"] {
        publish(&mut catalog, "tally", version, &[]);
    }
    let resolution = resolve(
        &requests(&[("tally", "^1"), ("tally", "<1.3")]),
        &catalog,
        &host(),
    )
    .expect("resolves");
    assert_eq!(chosen(&resolution), pairs(&[("tally", "1.2.0")]));

    // The newest app needs a tally no one has; the solver must fall back.
    let mut catalog = Catalog::new();
    publish(&mut catalog, "app", "2.0.0", &[("tally", "^3")]);
    publish(&mut catalog, "app", "1.0.0", &[("tally", "^1")]);
    publish(&mut catalog, "tally", "1.0.0", &[]);
    let resolution = resolve(&requests(&[("app", "*")]), &catalog, &host()).expect("resolves");
    assert_eq!(
        chosen(&resolution),
        pairs(&[("app", "1.0.0"), ("tally", "1.0.0")])
    );
}

#[test]
fn no_matching_version_lists_what_exists() {
    let mut catalog = Catalog::new();
    publish(&mut catalog, "tally", "1.0.0", &[]);
    publish(&mut catalog, "tally", "1.1.0", &[]);
    let message = conflict(resolve(&requests(&[("tally", "^2")]), &catalog, &host()));
    assert!(
        message.contains("tally has no version matching ^2 (it has 1.1.0, 1.0.0)"),
        "{message}"
    );
}

#[test]
fn self_dependencies_are_settled_without_the_solver() {
    let mut catalog = Catalog::new();
    publish(&mut catalog, "loop", "1.0.0", &[("loop", "^1")]);
    publish(&mut catalog, "loop", "2.0.0", &[("loop", "^1")]);
    let resolution = resolve(&requests(&[("loop", "*")]), &catalog, &host()).expect("resolves");
    // 2.0.0 asks for a 1.x of itself, so it cannot be used.
    assert_eq!(chosen(&resolution), pairs(&[("loop", "1.0.0")]));
}

#[test]
fn empty_request_resolves_to_nothing() {
    let resolution = resolve(&[], &Catalog::new(), &host()).expect("resolves");
    assert_eq!(resolution, Resolution::default());
}

/// A tiny deterministic generator (Knuth's MMIX LCG), so the large graph is
/// the same on every run without a `rand` dependency.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn a_generated_graph_of_a_thousand_plugins_resolves() {
    const COUNT: usize = 1000;
    let name = |i: usize| format!("p{i}");
    let mut lcg = Lcg(0x5eed);
    // Every fifth plugin or so has its newest 1.x yanked; requirements on
    // those stop at ^1.1 so a solution always exists.
    let yanked: Vec<bool> = (0..COUNT).map(|_| lcg.below(5) == 0).collect();
    let mut catalog = Catalog::new();
    for i in 0..COUNT {
        for (version, is_newest_1x) in [("1.0.0", false), ("1.1.0", false), ("1.2.0", true)] {
            let mut deps = Vec::new();
            if i + 1 < COUNT {
                // A chain through all plugins, so every one is reachable.
                let mut targets = vec![i + 1];
                for _ in 0..1 + lcg.below(2) {
                    let span = (COUNT - i - 1).min(40) as u64;
                    let target = i + 1 + lcg.below(span) as usize;
                    if !targets.contains(&target) {
                        targets.push(target);
                    }
                }
                for target in targets {
                    let top = if yanked[target] { 2 } else { 3 };
                    deps.push((name(target), format!("^1.{}", lcg.below(top))));
                }
            }
            catalog.entry(id(&name(i))).or_default().push(Candidate {
                version: v(version),
                host_api: req("^0.2"),
                dependencies: deps.iter().map(|(d, r)| (id(d), req(r))).collect(),
                yanked: is_newest_1x && yanked[i],
            });
        }
        // A 2.0.0 no requirement allows, and a 3.0.0 for another host.
        publish(&mut catalog, &name(i), "2.0.0", &[]);
        publish_full(&mut catalog, &name(i), "3.0.0", "^0.3", &[], false);
    }

    let resolution = resolve(&requests(&[("p0", "^1")]), &catalog, &host()).expect("resolves");
    assert_eq!(resolution.versions.len(), COUNT);
    for (i, is_yanked) in yanked.iter().enumerate() {
        let expected = if *is_yanked { "1.1.0" } else { "1.2.0" };
        assert_eq!(
            resolution
                .versions
                .get(&id(&name(i)))
                .map(ToString::to_string),
            Some(expected.to_owned()),
            "p{i}"
        );
    }
    // Check the answer independently: every chosen version's requirements
    // hold for the chosen versions of its dependencies.
    for (plugin, version) in &resolution.versions {
        let candidate = catalog
            .candidates(plugin)
            .into_iter()
            .find(|c| &c.version == version)
            .expect("chosen version is published");
        assert!(!candidate.yanked, "{plugin} {version} is yanked");
        for (dep, requirement) in &candidate.dependencies {
            let dep_version = &resolution.versions[dep];
            assert!(
                requirement.matches(dep_version),
                "{plugin} {version} needs {dep} {requirement}, got {dep_version}"
            );
        }
    }
}

#[test]
fn requirement_translation_follows_cargo() {
    let contains = |requirement: &str, version: &str| {
        range_of(&req(requirement))
            .expect("known operators")
            .contains(&v(version))
    };
    assert!(contains("^0.2", "0.2.9"));
    assert!(!contains("^0.2", "0.3.0"));
    assert!(!contains("^0.2", "0.1.9"));
    assert!(contains("~1.2", "1.2.9"));
    assert!(!contains("~1.2", "1.3.0"));
    assert!(contains("1.*", "1.9.0"));
    assert!(!contains("1.*", "2.0.0"));
    assert!(contains("*", "42.0.0"));
    assert!(contains("^0.0.3", "0.0.3"));
    assert!(!contains("^0.0.3", "0.0.4"));
    assert!(contains(">1.2", "1.3.0"));
    assert!(!contains(">1.2", "1.2.9"));
    assert!(contains("<=1.2", "1.2.9"));
    assert!(!contains("<=1.2", "1.3.0"));
    assert!(contains(">=1.0, <1.5", "1.4.9"));
    assert!(!contains(">=1.0, <1.5", "1.5.0"));
    assert!(contains("=1.2.3", "1.2.3+build.5"));
}

/// Every requirement shape against every version in a grid, compared with
/// `VersionReq::matches`, the reference for Cargo's rules.
#[test]
fn requirement_translation_agrees_with_semver_matches() {
    let numbers = [0_u64, 1, 2, 3];
    let mut versions = Vec::new();
    for major in numbers {
        for minor in numbers {
            for patch in numbers {
                versions.push(Version::new(major, minor, patch));
            }
        }
    }
    versions.push(v("1.2.3+meta"));
    let mut partials = Vec::new();
    for major in [0_u64, 1, 2] {
        partials.push(format!("{major}"));
        for minor in [0_u64, 1, 2] {
            partials.push(format!("{major}.{minor}"));
            for patch in [0_u64, 1, 2] {
                partials.push(format!("{major}.{minor}.{patch}"));
            }
        }
    }
    partials.push("1.2.2-beta.1".to_owned());
    partials.push("0.0.1-rc".to_owned());
    let mut requirements = vec!["*".to_owned()];
    for partial in &partials {
        for op in ["=", ">", ">=", "<", "<=", "~", "^", ""] {
            requirements.push(format!("{op}{partial}"));
        }
        if !partial.contains('-') && partial.matches('.').count() < 2 {
            requirements.push(format!("{partial}.*"));
        }
    }
    requirements.push(">=0.1, <2".to_owned());
    requirements.push("^1.1, <1.2.2".to_owned());
    requirements.push(">1, <1".to_owned());
    let mut checked = 0;
    for text in &requirements {
        let requirement = req(text);
        let range = range_of(&requirement).expect("known operators");
        for version in &versions {
            assert_eq!(
                range.contains(version),
                requirement.matches(version),
                "{text} vs {version}"
            );
            checked += 1;
        }
    }
    assert!(checked > 10_000, "grid too small: {checked}");
}

#[test]
fn a_conflict_deep_in_the_graph_is_explained_step_by_step() {
    let mut catalog = Catalog::new();
    publish(
        &mut catalog,
        "app",
        "1.0.0",
        &[("notes", "^1"), ("report", "^1")],
    );
    publish(
        &mut catalog,
        "app",
        "1.1.0",
        &[("notes", "^1.1"), ("report", "^1")],
    );
    publish(&mut catalog, "notes", "1.0.0", &[("tally", "^1")]);
    publish(&mut catalog, "notes", "1.1.0", &[("tally", "^1.2")]);
    publish(&mut catalog, "notes", "1.2.0", &[("tally", "^1.2")]);
    publish(&mut catalog, "report", "1.0.0", &[("tally", "^2")]);
    publish(&mut catalog, "report", "1.1.0", &[("tally", "^2.1")]);
    for version in ["1.0.0", "1.2.0", "2.0.0"] {
        publish(&mut catalog, "tally", version, &[]);
    }
    publish_full(&mut catalog, "tally", "2.1.0", "^0.5", &[], false);
    let message = conflict(resolve(&requests(&[("app", "*")]), &catalog, &host()));
    for needle in [
        "every version of notes depends on tally ^1.",
        "report 1.0.0 depends on tally ^2",
        "tally 2.1.0 skipped: it needs host API ^0.5, this lord has 0.2.0",
        "report 1.1.0 cannot be used",
        "app 1.1.0 cannot be used",
        "no version of app can be used",
        "And because you requested app, your request cannot be satisfied.",
    ] {
        assert!(
            message.contains(needle),
            "missing {needle:?} in:\n{message}"
        );
    }
    // Every line is one sentence; empty lines separate numbered steps.
    for line in message.lines().filter(|line| !line.is_empty()) {
        assert!(
            line.starts_with("Because ") || line.starts_with("And because "),
            "{line}"
        );
    }
}
