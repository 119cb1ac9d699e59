//! Turns PubGrub's derivation tree into plain English for a failed
//! resolution: which plugin wants which range of which other plugin, and,
//! where versions were left out, why.
//!
//! PubGrub's `DefaultStringReporter` walks the tree and numbers shared
//! steps; this formatter supplies every sentence it prints, so ranges read
//! as requirements (`^1`) and the root reads as "you requested".

use std::sync::Arc;

use pubgrub::{
    DefaultStringReporter, DerivationTree, Derived, External, Map, Ranges, ReportFormatter,
    Reporter, Term,
};
use semver::Version;

use crate::provider::{Package, Provider};
use crate::range::describe;

type Tree = DerivationTree<Package, Ranges<Version>, String>;
type Ext = External<Package, Ranges<Version>, String>;
type Der = Derived<Package, Ranges<Version>, String>;
type Terms = Map<Package, Term<Ranges<Version>>>;

/// How many published versions to list when none matches a requirement.
const LISTED_VERSIONS: usize = 5;

/// The whole explanation, one sentence per line.
pub(crate) fn explain(tree: &Tree, provider: &Provider<'_>) -> String {
    let mut tree = tree.clone();
    collapse_noise(&mut tree, provider);
    let formatter = Formatter { provider };
    match &tree {
        // The reporter prints a lone external step as a bare clause; give
        // it the same "Because ..., ..." shape as every other explanation.
        DerivationTree::External(external) => format!(
            "Because {}, your request cannot be satisfied.",
            formatter.format_external(external)
        ),
        DerivationTree::Derived(_) => {
            DefaultStringReporter::report_with_formatter(&tree, &formatter)
        }
    }
}

/// Folds away "P has no version in R" steps that only say the index lists
/// nothing in R, the way PubGrub's own `collapse_no_versions` does, but
/// keeps the ones that carry news: an unknown plugin, skipped versions, or
/// a dependency range left with no version at all.
///
/// Folding widens the sibling step's claim about P by R, which is sound
/// because R holds no version of P; the printed range of a dependency is
/// kept as written, for the same reason.
fn collapse_noise(tree: &mut Tree, provider: &Provider<'_>) {
    let DerivationTree::Derived(derived) = tree else {
        return;
    };
    // Children first: a child that folds into an external step may let
    // this step fold too.
    collapse_noise(Arc::make_mut(&mut derived.cause1), provider);
    collapse_noise(Arc::make_mut(&mut derived.cause2), provider);
    let (package, nothing, other) = match (&*derived.cause1, &*derived.cause2) {
        (DerivationTree::External(External::NoVersions(package, nothing)), other)
        | (other, DerivationTree::External(External::NoVersions(package, nothing))) => {
            (package, nothing, other)
        }
        (DerivationTree::External(_) | DerivationTree::Derived(_), _) => return,
    };
    if !is_noise(provider, package, nothing) {
        return;
    }
    let folded = match other {
        DerivationTree::External(External::FromDependencyOf(p, pr, d, dr)) => {
            if package == p {
                Some(DerivationTree::External(External::FromDependencyOf(
                    p.clone(),
                    pr.union(nothing),
                    d.clone(),
                    dr.clone(),
                )))
            } else if package == d && still_served(provider, package, dr, nothing) {
                Some(other.clone())
            } else {
                None
            }
        }
        DerivationTree::External(
            External::NoVersions(..) | External::NotRoot(..) | External::Custom(..),
        ) => None,
        // A step referenced elsewhere by number keeps its own wording.
        DerivationTree::Derived(inner) if inner.shared_id.is_none() => {
            let keeps_meaning = match inner.terms.get(package) {
                Some(Term::Positive(_)) => true,
                Some(Term::Negative(needed)) => still_served(provider, package, needed, nothing),
                None => false,
            };
            keeps_meaning.then(|| {
                DerivationTree::Derived(Derived {
                    terms: derived.terms.clone(),
                    shared_id: derived.shared_id,
                    cause1: Arc::clone(&inner.cause1),
                    cause2: Arc::clone(&inner.cause2),
                })
            })
        }
        DerivationTree::Derived(_) => None,
    };
    if let Some(folded) = folded {
        *tree = folded;
    }
}

/// Whether a requirement `needed` on `package` still has a usable version
/// once the empty part `nothing` is taken out; if not, "no version in
/// `nothing`" is the heart of the explanation and must stay.
fn still_served(
    provider: &Provider<'_>,
    package: &Package,
    needed: &Ranges<Version>,
    nothing: &Ranges<Version>,
) -> bool {
    nothing.subset_of(needed)
        && !usable_in(
            provider,
            package,
            &needed.intersection(&nothing.complement()),
        )
        .is_empty()
}

/// Whether "`package` has no version in `range`" says nothing beyond "the
/// index lists none there": the plugin exists and nothing in the range
/// was skipped for a reason worth telling.
fn is_noise(provider: &Provider<'_>, package: &Package, range: &Ranges<Version>) -> bool {
    match package {
        Package::Root => false,
        Package::Plugin(id) => {
            let versions = provider.versions(id);
            versions.published && !versions.skipped.keys().any(|v| range.contains(v))
        }
    }
}

/// The usable versions of `package` inside `range`, oldest first.
fn usable_in(provider: &Provider<'_>, package: &Package, range: &Ranges<Version>) -> Vec<Version> {
    match package {
        Package::Root => Vec::new(),
        Package::Plugin(id) => provider
            .versions(id)
            .usable
            .keys()
            .filter(|v| range.contains(*v))
            .cloned()
            .collect(),
    }
}

/// Needs the provider to tell an unknown plugin from one whose versions
/// were all skipped, and to quote the skip reasons.
struct Formatter<'p, 'a> {
    provider: &'p Provider<'a>,
}

/// `tally ^1`, or just `tally` for any version.
fn wanted(package: &Package, range: &Ranges<Version>) -> String {
    if *range == Ranges::full() {
        package.to_string()
    } else {
        format!("{package} {}", describe(range))
    }
}

impl Formatter<'_, '_> {
    /// The versions of a depending package, named the way that reads best:
    /// `notes 1.0.0`, `notes 1.1.0 and 1.2.0`, `every version of notes`,
    /// `every version of notes in ^1`. Versions are named from the usable
    /// ones inside the range: the others do not exist or were explained
    /// apart.
    fn dependents(&self, package: &Package, range: &Ranges<Version>) -> Subject {
        let id = match package {
            Package::Root => return Subject::one(package.to_string()),
            Package::Plugin(id) => id,
        };
        if let Some(version) = range.as_singleton() {
            return Subject::one(format!("{id} {version}"));
        }
        let versions = self.provider.versions(id);
        let inside: Vec<&Version> = versions
            .usable
            .keys()
            .filter(|v| range.contains(*v))
            .collect();
        let kind = if versions.skipped.is_empty() {
            "version"
        } else {
            "usable version"
        };
        match inside.as_slice() {
            [only] => Subject::one(format!("{id} {only}")),
            all if all.len() > 1 && all.len() == versions.usable.len() => {
                Subject::every(format!("{kind} of {id}"))
            }
            few if (2..=LISTED_VERSIONS).contains(&few.len()) => {
                let names: Vec<String> = few.iter().map(ToString::to_string).collect();
                Subject {
                    text: format!("{id} {}", and_list(&names)),
                    plural: true,
                    every: None,
                }
            }
            _ if *range == Ranges::full() => Subject::every(format!("{kind} of {id}")),
            _ => Subject::every(format!("{kind} of {id} in {}", describe(range))),
        }
    }

    /// `A depends on B`, spoken from the root as "you requested B".
    fn dependency(
        &self,
        package: &Package,
        range: &Ranges<Version>,
        dep: &Package,
        dep_range: &Ranges<Version>,
    ) -> String {
        let target = if dep_range.is_empty() {
            format!("{dep} with a requirement no version can meet")
        } else {
            wanted(dep, dep_range)
        };
        match package {
            Package::Root => format!("you requested {target}"),
            Package::Plugin(_) => {
                let subject = self.dependents(package, range);
                let verb = if subject.plural { "depend" } else { "depends" };
                format!("{} {verb} on {target}", subject.text)
            }
        }
    }

    fn no_versions(&self, package: &Package, range: &Ranges<Version>) -> String {
        let id = match package {
            // Never produced: the root always has its one version.
            Package::Root => return "your request cannot be resolved".to_owned(),
            Package::Plugin(id) => id,
        };
        let versions = self.provider.versions(id);
        if !versions.published {
            return format!("no plugin named {id} is published");
        }
        let scope = if *range == Ranges::full() {
            String::new()
        } else {
            format!(" matching {}", describe(range))
        };
        let skipped: Vec<&str> = versions
            .skipped
            .iter()
            .rev()
            .filter(|(version, _)| range.contains(*version))
            .map(|(_, reason)| reason.as_str())
            .collect();
        if !skipped.is_empty() {
            return format!("{id} has no usable version{scope} ({})", skipped.join("; "));
        }
        let listed: Vec<String> = versions
            .usable
            .keys()
            .rev()
            .take(LISTED_VERSIONS)
            .map(ToString::to_string)
            .collect();
        if listed.is_empty() {
            // Published, yet nothing usable or skipped: only pre-releases.
            return format!("{id} has only pre-release versions (never chosen)");
        }
        let more = if versions.usable.len() > LISTED_VERSIONS {
            ", ..."
        } else {
            ""
        };
        format!(
            "{id} has no version{scope} (it has {}{more})",
            listed.join(", ")
        )
    }
}

/// The subject of a sentence about some versions of a plugin.
struct Subject {
    text: String,
    /// Whether the verb takes its plural form (`notes 1.0.0 and 1.1.0 depend`).
    plural: bool,
    /// For `every X`, the `X`, so the negation can read `no X`.
    every: Option<String>,
}

impl Subject {
    fn one(text: String) -> Self {
        Self {
            text,
            plural: false,
            every: None,
        }
    }

    fn every(scope: String) -> Self {
        Self {
            text: format!("every {scope}"),
            plural: false,
            every: Some(scope),
        }
    }

    /// `notes 1.0.0 cannot be used`, or `no version of notes can be used`
    /// rather than the ambiguous `every version of notes cannot be used`.
    fn unusable(self) -> String {
        match self.every {
            Some(scope) => format!("no {scope} can be used"),
            None => format!("{} cannot be used", self.text),
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

impl ReportFormatter<Package, Ranges<Version>, String> for Formatter<'_, '_> {
    type Output = String;

    fn format_external(&self, external: &Ext) -> String {
        match external {
            External::NotRoot(_, _) => "your request is being resolved".to_owned(),
            External::NoVersions(package, range) => self.no_versions(package, range),
            External::FromDependencyOf(package, range, dep, dep_range) => {
                self.dependency(package, range, dep, dep_range)
            }
            External::Custom(package, range, reason) => {
                format!(
                    "{} cannot be used: {reason}",
                    self.dependents(package, range).text
                )
            }
        }
    }

    fn format_terms(&self, terms: &Terms) -> String {
        let mut listed: Vec<(&Package, &Term<Ranges<Version>>)> = terms.iter().collect();
        // The map's order is a hash order; sorting keeps messages stable.
        listed.sort_by(|a, b| a.0.cmp(b.0));
        match listed.as_slice() {
            [] => "no set of versions satisfies your request".to_owned(),
            [(Package::Root, Term::Positive(_))] => "your request cannot be satisfied".to_owned(),
            [(package, Term::Positive(range))] => self.dependents(package, range).unusable(),
            [(package, Term::Negative(range))] => {
                format!("{} is required", wanted(package, range))
            }
            [(p1, Term::Positive(r1)), (p2, Term::Negative(r2))]
            | [(p2, Term::Negative(r2)), (p1, Term::Positive(r1))] => {
                self.dependency(p1, r1, p2, r2)
            }
            many => {
                let mut used: Vec<Subject> = Vec::new();
                let mut needed: Vec<String> = Vec::new();
                for (package, term) in many {
                    match term {
                        Term::Positive(range) => used.push(self.dependents(package, range)),
                        Term::Negative(range) => needed.push(wanted(package, range)),
                    }
                }
                // Subjects may contain "and" themselves (`notes 1.1.0 and
                // 1.2.0`), so lists of them are joined with semicolons.
                let listed = || {
                    used.iter()
                        .map(|subject| subject.text.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                let needs = needed.join(" or ");
                match (used.as_slice(), needed.is_empty()) {
                    ([], _) => format!("one of {needs} is required"),
                    ([first, second], true) => {
                        let other = match &second.every {
                            Some(scope) => format!("any {scope}"),
                            None => second.text.clone(),
                        };
                        match &first.every {
                            Some(scope) => format!("no {scope} can be used together with {other}"),
                            None => format!("{} cannot be used together with {other}", first.text),
                        }
                    }
                    (_, true) => format!("these cannot be used together: {}", listed()),
                    ([one], false) => {
                        let verb = if one.plural { "need" } else { "needs" };
                        format!("{} {verb} {needs}", one.text)
                    }
                    (_, false) => format!("these together need {needs}: {}", listed()),
                }
            }
        }
    }

    fn explain_both_external(&self, external1: &Ext, external2: &Ext, terms: &Terms) -> String {
        // Two plugins wanting disjoint ranges of a third is the most common
        // conflict; saying so outright saves the reader comparing ranges.
        let disjoint = match (external1, external2) {
            (
                External::FromDependencyOf(_, _, dep1, range1),
                External::FromDependencyOf(_, _, dep2, range2),
            ) => dep1 == dep2 && range1.is_disjoint(range2),
            (External::NotRoot(..) | External::NoVersions(..) | External::Custom(..), _)
            | (_, External::NotRoot(..) | External::NoVersions(..) | External::Custom(..)) => false,
        };
        format!(
            "Because {} and {}{}, {}.",
            self.format_external(external1),
            self.format_external(external2),
            if disjoint {
                " (no version is in both)"
            } else {
                ""
            },
            self.format_terms(terms)
        )
    }

    fn explain_both_ref(
        &self,
        ref_id1: usize,
        derived1: &Der,
        ref_id2: usize,
        derived2: &Der,
        terms: &Terms,
    ) -> String {
        format!(
            "Because {} ({ref_id1}) and {} ({ref_id2}), {}.",
            self.format_terms(&derived1.terms),
            self.format_terms(&derived2.terms),
            self.format_terms(terms)
        )
    }

    fn explain_ref_and_external(
        &self,
        ref_id: usize,
        derived: &Der,
        external: &Ext,
        terms: &Terms,
    ) -> String {
        format!(
            "Because {} ({ref_id}) and {}, {}.",
            self.format_terms(&derived.terms),
            self.format_external(external),
            self.format_terms(terms)
        )
    }

    fn and_explain_external(&self, external: &Ext, terms: &Terms) -> String {
        format!(
            "And because {}, {}.",
            self.format_external(external),
            self.format_terms(terms)
        )
    }

    fn and_explain_ref(&self, ref_id: usize, derived: &Der, terms: &Terms) -> String {
        format!(
            "And because {} ({ref_id}), {}.",
            self.format_terms(&derived.terms),
            self.format_terms(terms)
        )
    }

    fn and_explain_prior_and_external(
        &self,
        prior_external: &Ext,
        external: &Ext,
        terms: &Terms,
    ) -> String {
        format!(
            "And because {} and {}, {}.",
            self.format_external(prior_external),
            self.format_external(external),
            self.format_terms(terms)
        )
    }
}
