//! Policy layers and decisions.
//!
//! Each layer (the machine's, then the user's) is its own Cedar policy
//! set, decided on its own with Cedar's semantics (a `forbid` beats any
//! `permit`; nothing permitted is denied), and an action goes ahead only
//! when every layer that has policies allows it. So a looser layer can
//! only add refusals: a user's `permit` never reaches past the machine's
//! `forbid`, nor past the machine's silence where the machine permits
//! only some things.
//!
//! Each `forbid` carries its enforcement in an annotation,
//! `@enforcement("block" | "warn" | "report")` (default `block`): a
//! refusal by `warn` policies alone lets the action go ahead with a
//! warning, by `report` policies alone lets it go ahead and is only
//! recorded. A refusal because nothing permitted the action is `block`,
//! whatever `warn` or `report` forbids matched as well: a forbid can only
//! add a refusal, never turn the layer's silence into a warning.
//! A policy that fails to evaluate refuses (`block`) rather than being
//! skipped, so an error never opens a door.

use std::collections::HashMap;
use std::sync::OnceLock;

use cedar_policy::{
    Authorizer, Decision as CedarDecision, Effect, PolicyId, PolicySet, Schema, ValidationMode,
    Validator,
};

use crate::error::PolicyError;
use crate::request::{Groups, Request};

/// The schema policies are checked against (`schema.cedarschema`).
pub const SCHEMA: &str = include_str!("schema.cedarschema");

fn schema() -> &'static Schema {
    static SCHEMA_PARSED: OnceLock<Schema> = OnceLock::new();
    SCHEMA_PARSED.get_or_init(|| {
        #[expect(
            clippy::expect_used,
            reason = "the schema is part of the build and tested"
        )]
        Schema::from_cedarschema_str(SCHEMA)
            .map(|(schema, _warnings)| schema)
            .expect("lord's policy schema parses")
    })
}

/// Where a layer of policies comes from, strictest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// The machine's policies: an ordinary user cannot change them.
    Machine,
    /// The user's own policies: they can only add refusals.
    User,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Machine => "machine",
            Self::User => "user",
        }
    }
}

/// How a refusal is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    /// Recorded in the audit trail; the action goes ahead.
    Report,
    /// Shown as a warning and recorded; the action goes ahead.
    Warn,
    /// The action is refused.
    Block,
}

impl Enforcement {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Report => "report",
            Self::Warn => "warn",
            Self::Block => "block",
        }
    }
}

/// One layer's files, as read.
#[derive(Debug, Clone, Default)]
pub struct LayerSource {
    /// `*.cedar` files: (path as shown, text).
    pub files: Vec<(String, String)>,
    /// `groups.toml`, when there is one: (path as shown, text).
    pub groups: Option<(String, String)>,
}

/// A policy, as a decision names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyRef {
    /// `@id("...")`, or `FILE#N` (the Nth policy in the file of that
    /// name, from 1).
    pub name: String,
    pub file: String,
    pub scope: &'static str,
    pub effect: &'static str,
    pub enforcement: Enforcement,
}

#[derive(Debug)]
struct Layer {
    scope: Scope,
    set: PolicySet,
    /// The layer's permits alone: when the layer refuses, whether any
    /// of them was satisfied tells a refusal by forbids from one by
    /// silence (Cedar names only the forbids then).
    permits: PolicySet,
    refs: HashMap<PolicyId, PolicyRef>,
    groups: Groups,
}

/// Every layer's policies, parsed and checked against the schema.
#[derive(Debug, Default)]
pub struct Policies {
    layers: Vec<Layer>,
}

/// What one layer said.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verdict {
    pub scope: &'static str,
    pub allowed: bool,
    /// The policies that decided: the permits that matched when allowed,
    /// the forbids that matched when refused.
    pub deciding: Vec<PolicyRef>,
    /// Refused because no policy of this layer permits the action
    /// (`block`, whatever forbids in `deciding` matched as well).
    pub nothing_permits: bool,
    /// Policies that failed to evaluate (and so refused).
    pub errors: Vec<String>,
    /// How this layer's refusal is carried out; `None` when it allowed.
    pub enforcement: Option<Enforcement>,
}

/// The answer to one question.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Decision {
    /// `None`: allowed. Otherwise how the refusal is carried out (the
    /// strictest of the refusing layers').
    pub refusal: Option<Enforcement>,
    /// Only layers that have policies speak.
    pub verdicts: Vec<Verdict>,
}

impl Decision {
    /// Whether the action may go ahead (allowed, or refused by `warn` or
    /// `report` policies only).
    pub fn proceeds(&self) -> bool {
        match self.refusal {
            None | Some(Enforcement::Report | Enforcement::Warn) => true,
            Some(Enforcement::Block) => false,
        }
    }

    /// The policies that refused, across layers.
    pub fn refusing(&self) -> impl Iterator<Item = &PolicyRef> {
        self.verdicts
            .iter()
            .filter(|v| !v.allowed)
            .flat_map(|v| v.deciding.iter())
    }

    /// One line saying why, naming the deciding policies.
    pub fn explain(&self) -> String {
        let mut parts = Vec::new();
        for v in &self.verdicts {
            let names: Vec<String> = v
                .deciding
                .iter()
                .map(|p| format!("`{}` ({})", p.name, p.file))
                .collect();
            let said = if v.allowed {
                format!("{} policy permits it: {}", v.scope, names.join(", "))
            } else if !v.errors.is_empty() {
                format!(
                    "{} policy failed to evaluate: {}",
                    v.scope,
                    v.errors.join("; ")
                )
            } else if v.nothing_permits && names.is_empty() {
                format!(
                    "no {} policy permits it (Cedar refuses what nothing permits)",
                    v.scope
                )
            } else if v.nothing_permits {
                format!(
                    "no {} policy permits it (Cedar refuses what nothing permits), and it forbids it: {}",
                    v.scope,
                    names.join(", ")
                )
            } else {
                format!("{} policy forbids it: {}", v.scope, names.join(", "))
            };
            parts.push(said);
        }
        if parts.is_empty() {
            "no policies are in force".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

impl Policies {
    /// Parses and checks each layer's files. A layer with no `.cedar`
    /// file has no say.
    pub fn load(layers: Vec<(Scope, LayerSource)>) -> Result<Self, PolicyError> {
        let mut loaded = Vec::new();
        for (scope, source) in layers {
            let groups = match &source.groups {
                Some((file, text)) => toml::from_str(text).map_err(|e| PolicyError::Groups {
                    file: file.clone(),
                    message: e.message().to_owned(),
                })?,
                None => Groups::default(),
            };
            if source.files.is_empty() {
                loaded.push(Layer {
                    scope,
                    set: PolicySet::new(),
                    permits: PolicySet::new(),
                    refs: HashMap::new(),
                    groups,
                });
                continue;
            }
            let (set, permits, refs) = layer_set(scope, &source.files)?;
            loaded.push(Layer {
                scope,
                set,
                permits,
                refs,
                groups,
            });
        }
        loaded.sort_by_key(|l| l.scope);
        Ok(Self { layers: loaded })
    }

    /// Whether any layer has a policy: with none, nothing is asked.
    pub fn is_empty(&self) -> bool {
        self.layers.iter().all(|l| l.refs.is_empty())
    }

    /// Every policy in force.
    pub fn list(&self) -> Vec<PolicyRef> {
        let mut all: Vec<PolicyRef> = self
            .layers
            .iter()
            .flat_map(|l| l.refs.values().cloned())
            .collect();
        all.sort_by(|a, b| (a.scope, &a.file, &a.name).cmp(&(b.scope, &b.file, &b.name)));
        all
    }

    /// Asks every layer that has policies.
    pub fn decide(&self, request: &Request) -> Result<Decision, PolicyError> {
        let authorizer = Authorizer::new();
        let mut verdicts = Vec::new();
        let mut seen_groups: Vec<&Groups> = Vec::new();
        for layer in &self.layers {
            // A layer sees its own memberships and stricter layers', never
            // a looser layer's: a user cannot join the machine's groups.
            seen_groups.push(&layer.groups);
            if layer.refs.is_empty() {
                continue;
            }
            let (cedar, entities) = request.to_cedar(schema(), &seen_groups)?;
            let response = authorizer.is_authorized(&cedar, &layer.set, &entities);
            let diagnostics = response.diagnostics();
            let deciding: Vec<PolicyRef> = diagnostics
                .reason()
                .filter_map(|id| layer.refs.get(id).cloned())
                .collect();
            let errors: Vec<String> = diagnostics.errors().map(ToString::to_string).collect();
            let allowed = errors.is_empty() && response.decision() == CedarDecision::Allow;
            // Cedar's reasons for a refusal are the forbids that matched,
            // whether or not a permit was satisfied; so ask the permits
            // alone. A refusal with no permit satisfied is the layer's
            // silence, and a `warn` or `report` forbid matching too must
            // not make it proceed.
            let nothing_permits = !allowed
                && errors.is_empty()
                && (deciding.is_empty()
                    || authorizer
                        .is_authorized(&cedar, &layer.permits, &entities)
                        .decision()
                        != CedarDecision::Allow);
            let enforcement = if allowed {
                None
            } else if !errors.is_empty() || nothing_permits {
                Some(Enforcement::Block)
            } else {
                deciding.iter().map(|p| p.enforcement).max()
            };
            verdicts.push(Verdict {
                scope: layer.scope.as_str(),
                allowed,
                deciding,
                nothing_permits,
                errors,
                enforcement,
            });
        }
        let refusal = verdicts.iter().filter_map(|v| v.enforcement).max();
        Ok(Decision { refusal, verdicts })
    }
}

/// One layer's files as one Cedar set, each policy renamed after its
/// `@id` or its place in its file, and checked against the schema.
fn layer_set(
    scope: Scope,
    files: &[(String, String)],
) -> Result<(PolicySet, PolicySet, HashMap<PolicyId, PolicyRef>), PolicyError> {
    let mut set = PolicySet::new();
    let mut permits = PolicySet::new();
    let mut refs = HashMap::new();
    for (file, text) in files {
        let parse_error = |message: String| PolicyError::Parse {
            file: file.clone(),
            message,
        };
        let parsed: PolicySet = text
            .parse()
            .map_err(|e: cedar_policy::ParseErrors| parse_error(e.to_string()))?;
        if parsed.templates().next().is_some() {
            return Err(parse_error(
                "templates (`?principal`, `?resource`) are not supported; name the principal or resource"
                    .to_owned(),
            ));
        }
        // Cedar numbers policies as it parses; keep the file's order.
        let mut policies: Vec<_> = parsed.policies().collect();
        policies.sort_by_key(|p| {
            p.id()
                .to_string()
                .trim_start_matches("policy")
                .parse::<usize>()
                .unwrap_or(usize::MAX)
        });
        for (n, policy) in policies.into_iter().enumerate() {
            let name = match policy.annotation("id") {
                Some(id) => id.to_owned(),
                None => {
                    let short = std::path::Path::new(file)
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or(file);
                    format!("{short}#{}", n + 1)
                }
            };
            let enforcement = match policy.annotation("enforcement") {
                None | Some("block") => Enforcement::Block,
                Some("warn") => Enforcement::Warn,
                Some("report") => Enforcement::Report,
                Some(other) => {
                    return Err(parse_error(format!(
                        "policy `{name}`: enforcement `{other}` is not one of block, warn, report"
                    )));
                }
            };
            let id = PolicyId::new(&name);
            if refs.contains_key(&id) {
                return Err(parse_error(format!(
                    "two policies of the {} layer are called `{name}`",
                    scope.as_str()
                )));
            }
            let effect = match policy.effect() {
                Effect::Permit => "permit",
                Effect::Forbid => "forbid",
            };
            let renamed = policy.new_id(id.clone());
            if policy.effect() == Effect::Permit {
                permits
                    .add(renamed.clone())
                    .map_err(|e| parse_error(e.to_string()))?;
            }
            set.add(renamed).map_err(|e| parse_error(e.to_string()))?;
            refs.insert(
                id,
                PolicyRef {
                    name,
                    file: file.clone(),
                    scope: scope.as_str(),
                    effect,
                    enforcement,
                },
            );
        }
    }
    let validation = Validator::new(schema().clone()).validate(&set, ValidationMode::Strict);
    if let Some(error) = validation.validation_errors().next() {
        let id = error.policy_id();
        let file = refs.get(id).map_or_else(String::new, |r| r.file.clone());
        return Err(PolicyError::Invalid {
            file,
            message: format!("policy `{id}`: {error}"),
        });
    }
    Ok((set, permits, refs))
}
