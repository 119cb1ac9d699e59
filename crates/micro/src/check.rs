//! Checking a pipeline before it runs: unknown ids, schema mismatches
//! between neighbours, conditionals not guarded by a validator, and the
//! pipeline's effective authority; and the cached answer to whether the
//! hop from one step to the next may go unchecked: its output schema is
//! found to fit the next one's input, and one author wrote both steps.

use std::collections::{BTreeSet, HashMap};

use lord_manifest::{MicroId, MicroKind};
use serde::Serialize;

use crate::manager::MicroManager;
use crate::pipeline::{Pipeline, Step};
use crate::schema;

/// One problem found by [`MicroManager::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "problem")]
pub enum ChainFinding {
    UnknownId {
        id: String,
    },
    SchemaMismatch {
        from: String,
        to: String,
        field: String,
        detail: String,
    },
    NotAValidator {
        id: String,
        kind: String,
    },
}

impl std::fmt::Display for ChainFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainFinding::UnknownId { id } => write!(f, "`{id}` is not a registered micro-plugin"),
            ChainFinding::SchemaMismatch {
                from,
                to,
                field,
                detail,
            } => write!(f, "`{from}` → `{to}`: field `{field}` {detail}"),
            ChainFinding::NotAValidator { id, kind } => write!(
                f,
                "`{id}` guards a conditional step but is a {kind}, not a validator"
            ),
        }
    }
}

/// What a pipeline is before it runs: its problems, and its effective
/// authority (everything any member may do, together).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub findings: Vec<ChainFinding>,
    pub authority: Vec<String>,
    pub isolation: Vec<(String, String)>,
}

impl ChainReport {
    pub fn is_ok(&self) -> bool {
        self.findings.is_empty()
    }
}

impl MicroManager {
    /// Whether the hop from `id` to the next step may go unchecked: `id`'s
    /// output schema is found to fit the next step's input, and one author
    /// wrote both (see [`crate::Handler::plugin`]). Answers are cached
    /// until the registry changes.
    pub(crate) fn compatible(&self, id: &MicroId, next: &Step) -> bool {
        let Step::Call { id: next_id, .. } = next else {
            return false;
        };
        let generation = self.generation();
        let key = (id.clone(), next_id.clone());
        {
            let cache = self.inner.compat.lock().unwrap_or_else(|p| p.into_inner());
            if cache.0 == generation
                && let Some(answer) = cache.1.get(&key)
            {
                return *answer;
            }
        }
        let answer = self.compute_compatible(id, next_id);
        let mut cache = self.inner.compat.lock().unwrap_or_else(|p| p.into_inner());
        if cache.0 != generation {
            *cache = (generation, HashMap::new());
        }
        cache.1.insert(key, answer);
        answer
    }

    pub(crate) fn compute_compatible(&self, id: &MicroId, next_id: &MicroId) -> bool {
        if self.router(id).is_some() || self.router(next_id).is_some() {
            return false;
        }
        match (self.entry(id), self.entry(next_id)) {
            // The structural comparison is of declared schemas, and an
            // unchecked hop checks neither side: only a producer whose
            // author also wrote the consumer may go unchecked.
            (Some(a), Some(b)) if !one_author(&a, &b) => false,
            (Some(a), Some(b)) => match (&a.output, &b.input) {
                (Some(out), Some(inp)) => schema::mismatch(&out.source, &inp.source).is_none(),
                // No input schema: anything fits, nothing to check.
                (_, None) => true,
                (None, Some(_)) => false,
            },
            _ => false,
        }
    }

    /// The seed's `validateMicroPluginChain`, for any pipeline: unknown ids,
    /// schema mismatches between neighbours (naming both and the field), a
    /// conditional guarded by something that is not a validator, and the
    /// pipeline's effective authority.
    pub fn validate(&self, pipeline: &Pipeline) -> ChainReport {
        let mut report = ChainReport::default();
        let mut authority = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for id in pipeline.ids() {
            if !seen.insert(id.clone()) {
                continue;
            }
            let targets: Vec<MicroId> = match self.router(id) {
                Some(router) => router
                    .stats()
                    .iter()
                    .filter_map(|s| s.target.parse().ok())
                    .collect(),
                None => vec![id.clone()],
            };
            for target in targets {
                match self.entry(&target) {
                    Some(entry) => {
                        for p in &entry.plugin.security.allowed {
                            authority.insert(p.to_string());
                        }
                        report.isolation.push((
                            target.to_string(),
                            entry.plugin.security.isolation.to_string(),
                        ));
                    }
                    None => report.findings.push(ChainFinding::UnknownId {
                        id: target.to_string(),
                    }),
                }
            }
        }
        self.check_neighbours(pipeline, &mut report);
        report.authority = authority.into_iter().collect();
        report
    }

    /// Takes no lock across the recursion: entries are fetched one by one,
    /// so a concurrent `replace` never waits behind a nested read.
    pub(crate) fn check_neighbours(&self, pipeline: &Pipeline, report: &mut ChainReport) {
        for pair in pipeline.steps.windows(2) {
            if let [Step::Call { id: a, .. }, Step::Call { id: b, .. }] = pair
                && let (Some(ea), Some(eb)) = (self.entry(a), self.entry(b))
                && let (Some(out), Some(inp)) = (&ea.output, &eb.input)
                && let Some((field, detail)) = schema::mismatch(&out.source, &inp.source)
            {
                report.findings.push(ChainFinding::SchemaMismatch {
                    from: a.to_string(),
                    to: b.to_string(),
                    field,
                    detail,
                });
            }
        }
        for step in &pipeline.steps {
            match step {
                Step::Call { .. } => {}
                Step::Parallel { branches } => {
                    for b in branches {
                        self.check_neighbours(b, report);
                    }
                }
                Step::If {
                    check,
                    then,
                    otherwise,
                } => {
                    if let Some(entry) = self.entry(check)
                        && entry.plugin.kind != MicroKind::Validator
                    {
                        report.findings.push(ChainFinding::NotAValidator {
                            id: check.to_string(),
                            kind: entry.plugin.kind.to_string(),
                        });
                    }
                    self.check_neighbours(then, report);
                    if let Some(o) = otherwise {
                        self.check_neighbours(o, report);
                    }
                }
            }
        }
    }
}

/// Whether `a` and `b` are served by one author's code: the same plugin's,
/// or both the embedder's native handlers.
fn one_author(a: &crate::plugin::Entry, b: &crate::plugin::Entry) -> bool {
    match (a.plugin.handler.plugin(), b.plugin.handler.plugin()) {
        (Some(x), Some(y)) => x == y,
        (None, None) => true,
        (Some(_), None) | (None, Some(_)) => false,
    }
}
