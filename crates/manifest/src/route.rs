//! Routes between micro handlers, as `plugin.toml`'s `[[routes]]` and the
//! configuration's `[[micro.routes]]` write them: an id whose calls are
//! split between variants by weight (an A/B test, each routing key
//! staying on one variant), or moved gradually from an old handler to a
//! new one that is rolled back by itself when it does worse
//! (`lord-micro`'s `Router` runs both).
//!
//! ```toml
//! [[routes]]
//! id = "summarise"
//! rollout = { old = "summarise", new = "summarise-next", steps = [5, 25, 100],
//!             calls-per-step = 200, min-samples = 50 }
//! ```
//!
//! In a manifest a route may only name the plugin's own `[[micro]]` ids,
//! as its id and as every target: a plugin routes its own handlers and
//! can never take over another plugin's id.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{Locator, ManifestError};
use crate::ids::MicroId;
use crate::micro::MicroSpec;

/// At most this many routes in one manifest.
const MAX_ROUTES: usize = 32;

/// One route: the id callers use, and either weighted variants or a
/// rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RouteSpec {
    pub id: MicroId,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<VariantSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutSpec>,
}

/// One side of an A/B split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VariantSpec {
    pub name: String,
    pub target: MicroId,
    pub weight: u32,
}

/// A gradual rollout: the new handler's share at each step, when to step
/// up, and when to give up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RolloutSpec {
    pub old: MicroId,
    pub new: MicroId,
    /// The new handler's share in percent at each step, never decreasing.
    pub steps: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls_per_step: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_per_step: Option<u64>,
    /// Calls each handler needs before they are compared.
    #[serde(default = "default_min_samples")]
    pub min_samples: u64,
    /// Roll back when the new error rate exceeds the old by more than this.
    #[serde(default = "default_error_increase")]
    pub max_error_rate_increase: f64,
    /// Roll back when the new median latency exceeds the old times this.
    #[serde(default = "default_latency_ratio")]
    pub max_latency_ratio: f64,
}

// The thresholds are floats, which `check` requires to be finite, so
// equality is an equivalence on every route that passes it (a manifest,
// which holds routes, is `Eq`).
impl Eq for RolloutSpec {}
impl Eq for RouteSpec {}

fn default_min_samples() -> u64 {
    20
}

fn default_error_increase() -> f64 {
    0.05
}

fn default_latency_ratio() -> f64 {
    2.0
}

impl RouteSpec {
    /// The handlers the route sends calls to.
    pub fn targets(&self) -> Vec<&MicroId> {
        match &self.rollout {
            Some(r) => vec![&r.new, &r.old],
            None => self.variants.iter().map(|v| &v.target).collect(),
        }
    }

    /// Whether the route can run: variants or a rollout, not both; some
    /// weight; rollout steps that are percentages never decreasing, and a
    /// way to step up. The sentence says what to write instead.
    pub fn check(&self) -> Result<(), String> {
        match (&self.rollout, self.variants.is_empty()) {
            (Some(_), false) => {
                Err("give either `variants` (an A/B split) or `rollout`, not both".to_owned())
            }
            (None, true) => Err("give `variants` (an A/B split) or a `rollout`".to_owned()),
            (None, false) if self.variants.iter().all(|v| v.weight == 0) => {
                Err("at least one variant needs a weight above zero".to_owned())
            }
            (None, false) => Ok(()),
            (Some(r), true) => {
                if r.steps.is_empty()
                    || r.steps.iter().any(|s| *s > 100)
                    || r.steps.windows(2).any(|w| w[0] > w[1])
                {
                    return Err(
                        "rollout steps are percentages that never decrease, like [5, 25, 100]"
                            .to_owned(),
                    );
                }
                if !(r.max_error_rate_increase.is_finite() && r.max_latency_ratio.is_finite()) {
                    return Err("the rollout's thresholds must be numbers".to_owned());
                }
                if r.calls_per_step.is_none() && r.seconds_per_step.is_none() {
                    return Err("a rollout steps up after `calls-per-step` calls or \
                                `seconds-per-step` seconds; give one"
                        .to_owned());
                }
                Ok(())
            }
        }
    }
}

/// Checks a manifest's `[[routes]]` against its `[[micro]]` entries.
pub(crate) fn check_manifest_routes(
    loc: &Locator<'_>,
    raw: Vec<Spanned<RouteSpec>>,
    micro: &[MicroSpec],
) -> Result<Vec<RouteSpec>, ManifestError> {
    let own = |id: &MicroId| micro.iter().any(|m| m.id == *id);
    let mut out: Vec<RouteSpec> = Vec::new();
    for (index, spanned) in raw.into_iter().enumerate() {
        let start = spanned.span().start;
        let route = spanned.into_inner();
        let refuse = |why: String| loc.at(start, format!("route `{}`: {why}", route.id));
        if index >= MAX_ROUTES {
            return Err(refuse(format!(
                "too many routes; allowed at most {MAX_ROUTES}"
            )));
        }
        route.check().map_err(&refuse)?;
        if let Some(other) = std::iter::once(&route.id)
            .chain(route.targets())
            .find(|id| !own(id))
        {
            return Err(refuse(format!(
                "`{other}` is not one of this plugin's [[micro]] ids; a plugin routes only its \
                 own handlers"
            )));
        }
        if out.iter().any(|r| r.id == route.id) {
            return Err(refuse("is routed twice; keep one".to_owned()));
        }
        out.push(route);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::fixtures::MINIMAL;

    const HANDLERS: &str = "[[micro]]\nid = \"sum\"\nkind = \"utility\"\n\
                            [[micro]]\nid = \"sum-next\"\nkind = \"utility\"\n";

    fn parse(routes: &str) -> Result<crate::Manifest, String> {
        crate::parse("plugin.toml", &format!("{MINIMAL}{HANDLERS}{routes}"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_plugin_routes_its_own_handlers_and_the_route_round_trips() {
        let manifest = parse(
            "[[routes]]\nid = \"sum\"\nrollout = { old = \"sum\", new = \"sum-next\", \
             steps = [10, 100], calls-per-step = 50 }\n",
        )
        .expect("parses");
        let route = &manifest.routes[0];
        assert_eq!(route.id.as_str(), "sum");
        let rollout = route.rollout.as_ref().expect("rollout");
        assert_eq!((rollout.min_samples, rollout.max_latency_ratio), (20, 2.0));
        let again = crate::parse(
            "plugin.toml",
            &manifest.to_toml_string().expect("serialises"),
        )
        .expect("reparses");
        assert_eq!(again.routes, manifest.routes);
    }

    #[test]
    fn a_route_to_another_plugins_handler_or_a_bad_split_is_refused() {
        for (routes, expected) in [
            (
                "[[routes]]\nid = \"upper\"\nvariants = [{ name = \"a\", target = \"sum\", weight = 1 }]\n",
                "plugin.toml:13:1: route `upper`: `upper` is not one of this plugin's [[micro]] ids",
            ),
            (
                "[[routes]]\nid = \"sum\"\nvariants = [{ name = \"a\", target = \"lower\", weight = 1 }]\n",
                "route `sum`: `lower` is not one of this plugin's [[micro]] ids",
            ),
            (
                "[[routes]]\nid = \"sum\"\nvariants = [{ name = \"a\", target = \"sum\", weight = 0 }]\n",
                "route `sum`: at least one variant needs a weight above zero",
            ),
            (
                "[[routes]]\nid = \"sum\"\n",
                "route `sum`: give `variants` (an A/B split) or a `rollout`",
            ),
            (
                "[[routes]]\nid = \"sum\"\nrollout = { old = \"sum\", new = \"sum-next\", steps = [10] }\n",
                "`calls-per-step`",
            ),
            (
                "[[routes]]\nid = \"sum\"\nvariants = [{ name = \"a\", target = \"sum\", weight = 1 }]\n\
                 [[routes]]\nid = \"sum\"\nvariants = [{ name = \"b\", target = \"sum-next\", weight = 1 }]\n",
                "route `sum`: is routed twice",
            ),
        ] {
            let error = parse(routes).expect_err(routes);
            assert!(error.contains(expected), "{error}\nexpected: {expected}");
        }
    }
}
