//! Recommendations: "people who use X also use Y" from co-install
//! baskets (the sets of plugins single installations hold together, as
//! clients report them, with no user identifier), combined with content
//! similarity (keywords, category, permission families), and filtered by
//! compatibility with the asking installation (its host API, and nothing it
//! already has).
//!
//! The score of a candidate `y` for an installation holding `S`:
//!
//! ```text
//! co(y)      = Σ_{x ∈ S} count(x, y) / sqrt(count(x) · count(y))   (cosine of co-installs)
//! content(y) = max_{x ∈ S} jaccard(features(x), features(y))
//! score(y)   = co(y) + CONTENT_WEIGHT · content(y)
//! ```
//!
//! Candidates are the plugins sharing an install or a keyword with `S`
//! (an inverted index), so a request scores hundreds of plugins, not the
//! whole registry. Co-installs carry the signal where there is data; content similarity
//! ranks plugins nobody has installed together yet (a new plugin), which
//! is why the two are combined rather than one chosen.
//!
//! [`evaluate`] measures it offline on a held-out split of baskets against
//! the most-popular baseline: precision@k and recall@k.

use std::collections::{BTreeMap, BTreeSet};

/// How much content similarity weighs against co-installs.
pub const CONTENT_WEIGHT: f64 = 0.35;

/// What content similarity compares: words of one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    /// Keywords, `category:NAME` and `permission:FAMILY`, lowercase.
    pub words: BTreeSet<String>,
    /// The plugin's `host-api` requirement, when known.
    pub host_api: Option<semver::VersionReq>,
}

impl Features {
    /// Features from a plugin's keywords, category and permission families.
    pub fn of(
        keywords: &[String],
        category: &str,
        families: &[&str],
        host_api: Option<&str>,
    ) -> Self {
        let mut words: BTreeSet<String> = keywords.iter().map(|k| k.to_lowercase()).collect();
        words.insert(format!("category:{}", category.to_lowercase()));
        words.extend(families.iter().map(|f| format!("permission:{f}")));
        Self {
            words,
            host_api: host_api.and_then(|t| semver::VersionReq::parse(t).ok()),
        }
    }
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let common = a.intersection(b).count();
    let all = a.len() + b.len() - common;
    if all == 0 {
        0.0
    } else {
        common as f64 / all as f64
    }
}

/// A trained recommender over plugins named by id.
#[derive(Debug, Clone, Default)]
pub struct Recommender {
    /// How many baskets hold each plugin.
    count: BTreeMap<String, u64>,
    /// How many baskets hold both (each pair under both orders).
    pairs: BTreeMap<String, BTreeMap<String, u64>>,
    features: BTreeMap<String, Features>,
    /// Keyword to the plugins that carry it: candidates for content
    /// similarity are those sharing a keyword, so a request scores a few
    /// hundred plugins, not every one in the registry.
    by_keyword: BTreeMap<String, Vec<String>>,
}

/// One recommendation and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub id: String,
    pub score: f64,
    /// The installed plugin that contributed most, for "because you use X".
    pub because: Option<String>,
}

impl Recommender {
    /// Learns from `baskets` (each the plugins one installation holds)
    /// and the `features` of every plugin that may be recommended.
    pub fn train(baskets: &[Vec<String>], features: BTreeMap<String, Features>) -> Self {
        let mut count: BTreeMap<String, u64> = BTreeMap::new();
        let mut pairs: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for basket in baskets {
            let items: BTreeSet<&String> = basket.iter().collect();
            for x in &items {
                *count.entry((*x).clone()).or_default() += 1;
                for y in &items {
                    if x != y {
                        *pairs
                            .entry((*x).clone())
                            .or_default()
                            .entry((*y).clone())
                            .or_default() += 1;
                    }
                }
            }
        }
        let mut by_keyword: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (id, f) in &features {
            for word in f.words.iter().filter(|w| !w.contains(':')) {
                by_keyword.entry(word.clone()).or_default().push(id.clone());
            }
        }
        Self {
            count,
            pairs,
            features,
            by_keyword,
        }
    }

    /// Plugins that share an install or a keyword with `have`.
    fn candidates(&self, have: &BTreeSet<&String>) -> BTreeSet<&String> {
        let mut out = BTreeSet::new();
        for x in have {
            if let Some(co) = self.pairs.get(*x) {
                out.extend(co.keys());
            }
            for word in self.features.get(*x).iter().flat_map(|f| f.words.iter()) {
                if let Some(ids) = self.by_keyword.get(word) {
                    out.extend(ids.iter());
                }
            }
        }
        out
    }

    /// Up to `k` plugins for an installation holding `installed` and
    /// speaking host API `host_api`: never one it has, never one whose
    /// `host-api` requirement refuses that version.
    pub fn recommend(
        &self,
        installed: &[String],
        host_api: &semver::Version,
        k: usize,
    ) -> Vec<Suggestion> {
        let have: BTreeSet<&String> = installed.iter().collect();
        let mut scored: Vec<Suggestion> = self
            .candidates(&have)
            .into_iter()
            .filter_map(|id| self.features.get(id).map(|f| (id, f)))
            .filter(|(id, _)| !have.contains(id))
            .filter(|(_, f)| f.host_api.as_ref().is_none_or(|req| req.matches(host_api)))
            .filter_map(|(y, fy)| {
                let mut best: Option<(&String, f64)> = None;
                let mut co = 0.0;
                let cy = self.count.get(y).copied().unwrap_or(0) as f64;
                let mut content: f64 = 0.0;
                for x in &have {
                    let cx = self.count.get(*x).copied().unwrap_or(0) as f64;
                    let both = self
                        .pairs
                        .get(*x)
                        .and_then(|m| m.get(y))
                        .copied()
                        .unwrap_or(0) as f64;
                    let cosine = if both > 0.0 {
                        both / (cx * cy).sqrt()
                    } else {
                        0.0
                    };
                    let similar = self
                        .features
                        .get(*x)
                        .map_or(0.0, |fx| jaccard(&fx.words, &fy.words));
                    let part = cosine + CONTENT_WEIGHT * similar;
                    if best.is_none_or(|(_, b)| part > b) {
                        best = Some((*x, part));
                    }
                    co += cosine;
                    content = content.max(similar);
                }
                let score = co + CONTENT_WEIGHT * content;
                (score > 0.0).then(|| Suggestion {
                    id: y.clone(),
                    score,
                    because: best.map(|(x, _)| x.clone()),
                })
            })
            .collect();
        scored.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        scored.truncate(k);
        scored
    }

    /// The `k` most installed plugins the installation lacks: the
    /// baseline a recommender must beat.
    pub fn most_popular(&self, installed: &[String], k: usize) -> Vec<String> {
        let have: BTreeSet<&String> = installed.iter().collect();
        let mut all: Vec<(&String, u64)> = self
            .count
            .iter()
            .filter(|(id, _)| !have.contains(id))
            .map(|(id, n)| (id, *n))
            .collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        all.into_iter().take(k).map(|(id, _)| id.clone()).collect()
    }
}

/// Precision and recall at k of the recommender and of the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    pub precision: f64,
    pub recall: f64,
    pub baseline_precision: f64,
    pub baseline_recall: f64,
    /// Held-out baskets evaluated.
    pub cases: usize,
}

/// Trains on `train` and, for each basket of `test` with at least two
/// plugins, shows the recommender the first half and asks for `k`: a hit
/// is a plugin of the hidden half. Averages over the baskets.
pub fn evaluate(
    train: &[Vec<String>],
    test: &[Vec<String>],
    features: BTreeMap<String, Features>,
    host_api: &semver::Version,
    k: usize,
) -> Evaluation {
    let model = Recommender::train(train, features);
    let (mut p, mut r, mut bp, mut br, mut cases) = (0.0, 0.0, 0.0, 0.0, 0usize);
    for basket in test.iter().filter(|b| b.len() >= 2) {
        let shown = &basket[..basket.len() / 2];
        let hidden: BTreeSet<&String> = basket[basket.len() / 2..].iter().collect();
        let hits = |ids: &[String]| ids.iter().filter(|id| hidden.contains(id)).count() as f64;
        let ours: Vec<String> = model
            .recommend(shown, host_api, k)
            .into_iter()
            .map(|s| s.id)
            .collect();
        let popular = model.most_popular(shown, k);
        p += hits(&ours) / k as f64;
        r += hits(&ours) / hidden.len() as f64;
        bp += hits(&popular) / k as f64;
        br += hits(&popular) / hidden.len() as f64;
        cases += 1;
    }
    let n = cases.max(1) as f64;
    Evaluation {
        precision: p / n,
        recall: r / n,
        baseline_precision: bp / n,
        baseline_recall: br / n,
        cases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The least precision@5 the evaluation accepts.
    const PRECISION_FLOOR: f64 = 0.10;

    fn features(words: &[&str]) -> Features {
        Features {
            words: words.iter().map(|w| (*w).to_owned()).collect(),
            host_api: None,
        }
    }

    #[test]
    fn co_installs_rank_first_and_what_is_installed_or_incompatible_never_shows() {
        let baskets: Vec<Vec<String>> = [
            vec!["git", "diff"],
            vec!["git", "diff"],
            vec!["git", "blame"],
            vec!["csv", "json"],
        ]
        .iter()
        .map(|b| b.iter().map(|s| (*s).to_owned()).collect())
        .collect();
        let mut all: BTreeMap<String, Features> = ["git", "diff", "blame", "csv", "json"]
            .iter()
            .map(|id| ((*id).to_owned(), features(&[])))
            .collect();
        all.insert(
            "new-vcs".to_owned(),
            Features {
                words: ["vcs".to_owned()].into(),
                host_api: Some(semver::VersionReq::parse("^0.3").expect("req")),
            },
        );
        let model = Recommender::train(&baskets, all);
        let host = semver::Version::new(0, 2, 1);
        let got = model.recommend(&["git".to_owned()], &host, 5);
        let ids: Vec<&str> = got.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["diff", "blame"]);
        assert_eq!(got[0].because.as_deref(), Some("git"));
        assert_eq!(
            model.most_popular(&["git".to_owned()], 2),
            ["diff", "blame"]
        );
    }

    /// The offline evaluation: demo installations split 4:1, the model
    /// trained on the first part and asked, for each held-out basket
    /// shown half its plugins, for 5 more.
    #[test]
    fn recommendations_beat_the_most_popular_baseline_on_held_out_baskets() {
        let plugins = crate::demo::plugins(400, 7);
        let baskets = crate::demo::baskets(&plugins, 3000, 8);
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (i, basket) in baskets.into_iter().enumerate() {
            if i % 5 == 0 {
                test.push(basket);
            } else {
                train.push(basket);
            }
        }
        let features = plugins
            .iter()
            .map(|p| (p.id.clone(), p.features.clone()))
            .collect();
        let e = evaluate(&train, &test, features, &semver::Version::new(0, 2, 1), 5);
        println!(
            "recommendations over {} held-out baskets: precision@5 {:.3} (most popular {:.3}), \
             recall@5 {:.3} (most popular {:.3})",
            e.cases, e.precision, e.baseline_precision, e.recall, e.baseline_recall
        );
        assert!(e.cases >= 500, "{e:?}");
        assert!(e.precision > e.baseline_precision, "{e:?}");
        assert!(e.recall > e.baseline_recall, "{e:?}");
        assert!(e.precision >= PRECISION_FLOOR, "{e:?}");
    }

    #[test]
    fn content_similarity_finds_a_plugin_nobody_installed_yet() {
        let baskets = vec![vec!["git".to_owned(), "diff".to_owned()]];
        let all: BTreeMap<String, Features> = [
            ("git", features(&["vcs", "category:development"])),
            ("diff", features(&["text"])),
            ("new-vcs", features(&["vcs", "category:development"])),
            ("csv", features(&["tables"])),
        ]
        .into_iter()
        .map(|(id, f)| (id.to_owned(), f))
        .collect();
        let model = Recommender::train(&baskets, all);
        let got = model.recommend(&["git".to_owned()], &semver::Version::new(0, 2, 1), 5);
        assert!(got.iter().any(|s| s.id == "new-vcs"), "{got:?}");
        assert!(got.iter().all(|s| s.id != "csv"), "{got:?}");
    }
}
