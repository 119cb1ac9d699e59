//! Routes as people write them (`lord_manifest::RouteSpec`: a plugin's
//! `[[routes]]`, the configuration's `[[micro.routes]]`), turned into the
//! [`Router`] that runs each: an A/B split by weight, or a gradual rollout
//! from an old handler to a new one.
//!
//! ```toml
//! [[micro.routes]]
//! id = "greet"                        # what pipelines call
//! variants = [
//!   { name = "a", target = "hello-greet", weight = 80 },
//!   { name = "b", target = "fancy-greet", weight = 20 },
//! ]
//! ```

use std::time::Duration;

use lord_manifest::RouteSpec;

use crate::error::MicroError;
use crate::route::{RolloutPolicy, Router, Variant};

/// The router `route` describes, or why it cannot run.
pub fn router_for(route: &RouteSpec) -> Result<Router, MicroError> {
    route
        .check()
        .map_err(|why| MicroError::InvalidPipeline(format!("route `{}`: {why}", route.id)))?;
    match &route.rollout {
        Some(r) => Router::rollout(
            r.old.clone(),
            r.new.clone(),
            RolloutPolicy {
                steps: r.steps.clone(),
                calls_per_step: r.calls_per_step,
                time_per_step: r.seconds_per_step.map(Duration::from_secs),
                min_samples: r.min_samples,
                max_error_rate_increase: r.max_error_rate_increase,
                max_latency_ratio: r.max_latency_ratio,
            },
        ),
        None => Router::new(
            route
                .variants
                .iter()
                .map(|v| Variant {
                    name: v.name.clone(),
                    target: v.target.clone(),
                    weight: v.weight,
                })
                .collect(),
        ),
    }
}

/// Reads the routes of a configuration key holding a list of tables
/// (`micro.routes`), each checked by building its router.
pub fn parse_routes(key: &str, value: &serde_json::Value) -> Result<Vec<RouteSpec>, MicroError> {
    let routes: Vec<RouteSpec> = serde_json::from_value(value.clone()).map_err(|e| {
        MicroError::InvalidPipeline(format!(
            "{key} must be a list of routes like {{ id = \"greet\", variants = [{{ name = \"a\", \
             target = \"hello-greet\", weight = 50 }}, ...] }}: {e}"
        ))
    })?;
    for (n, route) in routes.iter().enumerate() {
        router_for(route)?;
        if routes[..n].iter().any(|r| r.id == route.id) {
            return Err(MicroError::InvalidPipeline(format!(
                "route `{}` is routed twice in {key}; keep one",
                route.id
            )));
        }
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn routes_read_from_configuration_build_their_routers() {
        let value = json!([
            { "id": "greet", "variants": [
                { "name": "a", "target": "hello-greet", "weight": 80 },
                { "name": "b", "target": "fancy-greet", "weight": 20 },
            ]},
            { "id": "sum", "rollout": {
                "old": "sum-v1", "new": "sum-v2", "steps": [5, 100], "calls-per-step": 10,
            }},
        ]);
        let routes = parse_routes("micro.routes", &value).expect("routes");
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[1].rollout.as_ref().map(|r| r.min_samples), Some(20));
        let router = router_for(&routes[0]).expect("router");
        assert_eq!(router.stats()[0].weight, 80);
        let rollout = router_for(&routes[1]).expect("router");
        assert!(rollout.rollout_status().is_some());
        assert_eq!(routes[1].targets().len(), 2);
    }

    #[test]
    fn a_bad_route_is_refused_with_what_to_write() {
        let refused = |value: serde_json::Value| {
            parse_routes("micro.routes", &value)
                .expect_err("refused")
                .to_string()
        };
        assert!(refused(json!({ "id": "x" })).contains("must be a list of routes"));
        assert!(refused(json!([{ "id": "x" }])).contains("give `variants`"));
        assert!(
            refused(json!([{ "id": "x", "rollout": {
            "old": "a", "new": "b", "steps": [50, 100] }}]))
            .contains("calls-per-step")
        );
        assert!(
            refused(json!([{ "id": "x", "rollout": {
            "old": "a", "new": "b", "steps": [50, 10], "calls-per-step": 5 }}]))
            .contains("never decrease")
        );
        let twice = json!([
            { "id": "x", "variants": [{ "name": "a", "target": "a", "weight": 1 }] },
            { "id": "x", "variants": [{ "name": "b", "target": "b", "weight": 1 }] },
        ]);
        assert!(refused(twice).contains("routed twice"));
    }
}
