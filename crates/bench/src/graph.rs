//! Resolving a 1,000-package graph with `lord_resolve::resolve`, the
//! PubGrub step of `lord plugin install ID`, on an index already in memory
//! (fetching it is the registry's cost, not the resolver's).
//!
//! The graph is generated, the same every run: package `i` has versions
//! 1.0.0, 1.1.0 and 2.0.0, each depending with caret ranges on 2-3
//! higher-numbered packages, always including `i + 1`, so requesting
//! package 0 pulls in all 1,000. Some 1.1.0s are yanked and some 2.0.0s
//! need a newer host API, so the resolver filters as it does for real
//! indexes; every range is satisfiable, so it measures search, not a
//! conflict report.

use std::collections::BTreeMap;

use anyhow::{Result, ensure};
use lord_manifest::{PluginId, Version, VersionReq};
use lord_resolve::Candidate;

use crate::synth::Mix;
use crate::timing::{self, Plan, Samples};

/// Packages in the measured graph.
pub(crate) const PACKAGES: usize = 1_000;

type Index = BTreeMap<PluginId, Vec<Candidate>>;

fn id(n: usize) -> Result<PluginId> {
    Ok(format!("pkg-{n:04}").parse()?)
}

/// The range every dependent puts on package `n`: one all dependents
/// agree on, so the graph has a solution. `^1.0` where 2.0.0 is unusable
/// (it needs host API 0.3); else mostly `^2.0`, sometimes `^1.0`.
fn wanted(n: usize) -> &'static str {
    if n % 7 == 3 || n.is_multiple_of(5) {
        "^1.0"
    } else {
        "^2.0"
    }
}

/// The generated index and the request (package 0) that needs all of it.
pub(crate) fn generate(packages: usize) -> Result<(Index, Vec<(PluginId, VersionReq)>)> {
    let mut mix = Mix::new(0x5EED_0003);
    let current: VersionReq = "^0.2".parse()?;
    let newer: VersionReq = "^0.3".parse()?;
    let mut index = Index::new();
    for n in 0..packages {
        // `n + 1` keeps the chain connected; one or two more, mostly near
        // `n`, give the graph shared dependencies (diamonds).
        let mut targets = Vec::new();
        if n + 1 < packages {
            targets.push(n + 1);
        }
        let extra = 1 + mix.below(2);
        for _ in 0..extra {
            let span = packages - n - 1;
            if span < 2 {
                break;
            }
            let target = n + 2 + mix.skewed(span - 1).min(span - 2);
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        let dependencies = targets
            .iter()
            .map(|&t| Ok((id(t)?, wanted(t).parse()?)))
            .collect::<Result<Vec<_>>>()?;
        let candidate = |version: &str, deps: &[(PluginId, VersionReq)]| -> Result<Candidate> {
            Ok(Candidate {
                version: Version::parse(version)?,
                host_api: current.clone(),
                dependencies: deps.to_vec(),
                yanked: false,
            })
        };
        // The oldest version depends on less, as packages grow.
        let oldest = candidate("1.0.0", &dependencies[..dependencies.len().min(2)])?;
        let mut middle = candidate("1.1.0", &dependencies)?;
        middle.yanked = n % 11 == 4;
        let mut newest = candidate("2.0.0", &dependencies)?;
        if n % 7 == 3 {
            newest.host_api = newer.clone();
        }
        index.insert(id(n)?, vec![oldest, middle, newest]);
    }
    let requests = vec![(id(0)?, wanted(0).parse()?)];
    Ok((index, requests))
}

/// Time of one resolution of the whole graph.
pub(crate) async fn measure(plan: Plan) -> Result<Samples> {
    let (index, requests) = generate(PACKAGES)?;
    let host = lord_manifest::host_api_version();
    let solved = lord_resolve::resolve(&requests, &index, &host)?;
    ensure!(
        solved.versions.len() == PACKAGES,
        "the generated graph resolved to {} packages, not {PACKAGES}",
        solved.versions.len()
    );
    eprintln!("lord-bench: resolve: {PACKAGES}-package graph ...");
    timing::single(plan, async || {
        lord_resolve::resolve(&requests, &index, &host)?;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_graph_resolves_fully_and_the_same_each_time() {
        let (index, requests) = generate(60).expect("graph");
        assert_eq!(index.len(), 60);
        let host = lord_manifest::host_api_version();
        let first = lord_resolve::resolve(&requests, &index, &host).expect("resolves");
        assert_eq!(first.versions.len(), 60);
        // Host-incompatible 2.0.0s and yanked 1.1.0s are never chosen.
        let pick = |n: usize| first.versions[&id(n).expect("id")].to_string();
        assert_eq!(pick(3), "1.1.0", "2.0.0 of pkg-0003 needs host API 0.3");
        assert_eq!(pick(15), "1.0.0", "1.1.0 of pkg-0015 is yanked");
        assert_eq!(pick(1), "2.0.0");
        let (again, _) = generate(60).expect("graph");
        assert_eq!(index, again);
    }
}
