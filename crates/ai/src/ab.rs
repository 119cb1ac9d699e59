//! A/B comparisons of two prompt templates over a set of inputs: each
//! input is rendered through both, sent to the same profile, and the
//! replies are kept with their latency, tokens and cost; the user rates
//! each reply (1 to 5) as the run goes or later. A run is one JSON file
//! under `$LORD_HOME/ai/ab/`, rewritten atomically after every reply and
//! rating, so an interrupted run keeps what it measured.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::AiError;
use crate::types::Usage;

/// One variant's reply to one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub input: usize,
    /// `a` or `b`.
    pub variant: String,
    pub reply: String,
    pub latency_ms: f64,
    pub first_token_ms: f64,
    pub usage: Usage,
    pub cost: Option<f64>,
    pub rating: Option<u8>,
    pub error: Option<String>,
}

/// A comparison and what it measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub profile: String,
    pub model: Option<String>,
    /// Template names, variant `a` then `b`.
    pub a: String,
    pub b: String,
    pub inputs: Vec<BTreeMap<String, String>>,
    pub trials: Vec<Trial>,
}

/// One variant's figures, side by side with the other's in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantReport {
    pub variant: String,
    pub template: String,
    pub replies: usize,
    pub failures: usize,
    pub latency_ms_median: Option<f64>,
    pub latency_ms_mean: Option<f64>,
    pub first_token_ms_median: Option<f64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub output_tokens_mean: Option<f64>,
    /// `None` when any reply's model has no price.
    pub cost: Option<f64>,
    pub ratings: usize,
    pub rating_mean: Option<f64>,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// A run as `lord ai ab list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: String,
    pub profile: String,
    pub a: String,
    pub b: String,
    pub inputs: usize,
    pub trials: usize,
}

impl Run {
    /// Every run under `dir`, newest first (ids start with their time).
    pub fn list(dir: &Path) -> Result<Vec<RunSummary>, AiError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(AiError::File {
                    path: dir.display().to_string(),
                    detail: e.to_string(),
                });
            }
        };
        let mut out = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            // A file that does not read as a run is someone else's; skip it.
            if let Ok(run) = Self::load(dir, id) {
                out.push(RunSummary {
                    inputs: run.inputs.len(),
                    trials: run.trials.len(),
                    id: run.id,
                    profile: run.profile,
                    a: run.a,
                    b: run.b,
                });
            }
        }
        out.sort_by(|x, y| y.id.cmp(&x.id));
        Ok(out)
    }

    pub fn path(dir: &Path, id: &str) -> PathBuf {
        dir.join(format!("{id}.json"))
    }

    pub fn load(dir: &Path, id: &str) -> Result<Self, AiError> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(AiError::Invalid(format!("`{id}` is not an A/B run id")));
        }
        let path = Self::path(dir, id);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                AiError::Invalid(format!("there is no A/B run `{id}`; see `lord ai ab list`"))
            } else {
                AiError::File {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                }
            }
        })?;
        serde_json::from_str(&text).map_err(|e| AiError::File {
            path: path.display().to_string(),
            detail: e.to_string(),
        })
    }

    pub fn save(&self, dir: &Path) -> Result<(), AiError> {
        let path = Self::path(dir, &self.id);
        let error = |detail: String| AiError::File {
            path: path.display().to_string(),
            detail,
        };
        std::fs::create_dir_all(dir).map_err(|e| error(e.to_string()))?;
        let text = serde_json::to_vec_pretty(self).map_err(|e| error(e.to_string()))?;
        lord_file::write_atomic(&path, &text).map_err(|e| error(e.to_string()))
    }

    /// Rates the reply of `variant` to input `input` (1-based, as shown).
    pub fn rate(&mut self, input: usize, variant: &str, rating: u8) -> Result<(), AiError> {
        if !(1..=5).contains(&rating) {
            return Err(AiError::Invalid("a rating is 1 to 5".to_owned()));
        }
        let trial = self
            .trials
            .iter_mut()
            .find(|t| t.input + 1 == input && t.variant == variant)
            .ok_or_else(|| {
                AiError::Invalid(format!(
                    "the run `{}` has no reply of variant `{variant}` to input {input}",
                    self.id
                ))
            })?;
        trial.rating = Some(rating);
        Ok(())
    }

    /// Both variants' figures, `a` first.
    pub fn report(&self) -> Vec<VariantReport> {
        [("a", &self.a), ("b", &self.b)]
            .into_iter()
            .map(|(variant, template)| {
                let trials: Vec<&Trial> = self
                    .trials
                    .iter()
                    .filter(|t| t.variant == variant)
                    .collect();
                let ok: Vec<&&Trial> = trials.iter().filter(|t| t.error.is_none()).collect();
                let latency: Vec<f64> = ok.iter().map(|t| t.latency_ms).collect();
                let first: Vec<f64> = ok.iter().map(|t| t.first_token_ms).collect();
                let output: Vec<f64> = ok.iter().map(|t| t.usage.output_tokens as f64).collect();
                let ratings: Vec<f64> = trials
                    .iter()
                    .filter_map(|t| t.rating.map(f64::from))
                    .collect();
                let cost = ok
                    .iter()
                    .map(|t| t.cost)
                    .try_fold(0.0, |sum, c| c.map(|c| sum + c));
                VariantReport {
                    variant: variant.to_owned(),
                    template: template.clone(),
                    replies: ok.len(),
                    failures: trials.len() - ok.len(),
                    latency_ms_median: median(latency.clone()),
                    latency_ms_mean: mean(&latency),
                    first_token_ms_median: median(first),
                    input_tokens: ok.iter().map(|t| t.usage.input_tokens).sum(),
                    output_tokens: ok.iter().map(|t| t.usage.output_tokens).sum(),
                    output_tokens_mean: mean(&output),
                    cost,
                    ratings: ratings.len(),
                    rating_mean: mean(&ratings),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(input: usize, variant: &str, latency: f64, out: u64, rating: Option<u8>) -> Trial {
        Trial {
            input,
            variant: variant.into(),
            reply: "r".into(),
            latency_ms: latency,
            first_token_ms: latency / 2.0,
            usage: Usage {
                input_tokens: 10,
                output_tokens: out,
            },
            cost: Some(0.001),
            rating,
            error: None,
        }
    }

    #[test]
    fn the_report_gives_each_variant_its_own_figures() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = Run {
            id: "r1".into(),
            profile: "local".into(),
            model: None,
            a: "short".into(),
            b: "long".into(),
            inputs: vec![BTreeMap::new(), BTreeMap::new()],
            trials: vec![
                trial(0, "a", 10.0, 4, Some(2)),
                trial(0, "b", 30.0, 8, None),
                trial(1, "a", 20.0, 6, Some(4)),
                trial(1, "b", 50.0, 12, None),
            ],
        };
        run.rate(1, "b", 5).unwrap();
        assert!(run.rate(3, "b", 5).is_err());
        assert!(run.rate(1, "b", 6).is_err());
        run.save(dir.path()).unwrap();
        let report = Run::load(dir.path(), "r1").unwrap().report();
        assert_eq!(report[0].latency_ms_median, Some(15.0));
        assert_eq!(report[0].rating_mean, Some(3.0));
        assert_eq!(report[1].output_tokens, 20);
        assert_eq!(report[1].ratings, 1);
        assert!((report[1].cost.unwrap() - 0.002).abs() < 1e-12);
    }
}
