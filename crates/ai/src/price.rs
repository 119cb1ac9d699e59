//! The price table: what a million input and output tokens of a model
//! cost, from defaults for well-known models overridden by the user's
//! `$LORD_HOME/ai-prices.toml` (`lord ai price set MODEL IN OUT`). A model
//! is found by its exact name, then by the longest name it starts with
//! (`claude-3-5-haiku` prices `claude-3-5-haiku-20241022`, not another
//! model such as `gpt-4.1-nano` for `gpt-4.1`). A model with no
//! price has no cost, shown as unknown rather than as free.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::AiError;
use crate::types::Usage;

/// The file's name under `$LORD_HOME`.
pub const PRICES_FILE: &str = "ai-prices.toml";

/// Prices per million tokens, in the table's currency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

/// Defaults, in US dollars per million tokens, as the services list
/// them; edit the user's table when they change.
const DEFAULTS: [(&str, f64, f64); 10] = [
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1", 2.00, 8.00),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-opus-4", 15.00, 75.00),
    ("gemini-2.0-flash", 0.10, 0.40),
    ("gemini-1.5-flash", 0.075, 0.30),
    ("gemini-1.5-pro", 1.25, 5.00),
];

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct File {
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    models: BTreeMap<String, Price>,
}

/// The table in force.
#[derive(Debug, Clone)]
pub struct Prices {
    currency: String,
    models: BTreeMap<String, Price>,
    /// The user's own entries, which `set` writes back.
    own: File,
}

impl Prices {
    /// The defaults overridden by the file at `path`, if there is one.
    pub fn load(path: &Path) -> Result<Self, AiError> {
        let own: File = match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| AiError::File {
                path: path.display().to_string(),
                detail: format!("{e}; fix it, or remove it to use the default prices"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => File::default(),
            Err(e) => {
                return Err(AiError::File {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                });
            }
        };
        let mut models: BTreeMap<String, Price> = DEFAULTS
            .iter()
            .map(|(name, input, output)| {
                (
                    (*name).to_owned(),
                    Price {
                        input: *input,
                        output: *output,
                    },
                )
            })
            .collect();
        models.extend(own.models.clone());
        Ok(Self {
            currency: own.currency.clone().unwrap_or_else(|| "USD".to_owned()),
            models,
            own,
        })
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// The price of `model`, exact name first, then the longest prefix.
    pub fn price(&self, model: &str) -> Option<Price> {
        if let Some(price) = self.models.get(model) {
            return Some(*price);
        }
        // Only a dated or numbered name of the same model counts
        // (`-2024-08-06`, `-20241022`, `-001`, `-latest`): `gpt-4.1-nano`
        // is another model than `gpt-4.1`, priced otherwise.
        self.models
            .iter()
            .filter(|(name, _)| {
                model.strip_prefix(name.as_str()).is_some_and(|rest| {
                    rest.strip_prefix('-').is_some_and(|tail| {
                        tail.starts_with(|c: char| c.is_ascii_digit()) || tail == "latest"
                    })
                })
            })
            .max_by_key(|(name, _)| name.len())
            .map(|(_, price)| *price)
    }

    pub fn cost(&self, model: &str, usage: Usage) -> Option<f64> {
        self.price(model).map(|p| {
            (usage.input_tokens as f64 * p.input + usage.output_tokens as f64 * p.output) / 1e6
        })
    }

    /// Every price in force, by model.
    pub fn all(&self) -> &BTreeMap<String, Price> {
        &self.models
    }

    /// Sets `model`'s price in the user's table and writes it atomically.
    pub fn set(&mut self, path: &Path, model: &str, price: Price) -> Result<(), AiError> {
        if !(price.input.is_finite() && price.output.is_finite())
            || price.input < 0.0
            || price.output < 0.0
        {
            return Err(AiError::Invalid(
                "prices are amounts per million tokens, zero or more".to_owned(),
            ));
        }
        let mut own = self.own.clone();
        own.models.insert(model.to_owned(), price);
        let text = toml::to_string_pretty(&own).map_err(|e| AiError::Invalid(e.to_string()))?;
        let text = format!(
            "# Prices per million tokens ({}), read by lord for the cost meter.\n{text}",
            self.currency
        );
        lord_file::write_atomic(path, text.as_bytes()).map_err(|e| AiError::File {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        self.models.insert(model.to_owned(), price);
        self.own = own;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dated_model_takes_the_longest_matching_price_and_the_user_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PRICES_FILE);
        let mut prices = Prices::load(&path).unwrap();
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 500_000,
        };
        let near = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-9;
        assert!(near(prices.cost("gpt-4o-mini-2024-07-18", usage), 0.45));
        assert!(near(prices.cost("gpt-4o-2024-08-06", usage), 7.5));
        assert_eq!(prices.cost("SmolLM2", usage), None);
        assert_eq!(prices.cost("gpt-4.1-nano", usage), None, "another model");
        prices
            .set(
                &path,
                "SmolLM2",
                Price {
                    input: 0.0,
                    output: 1.0,
                },
            )
            .unwrap();
        assert_eq!(
            Prices::load(&path).unwrap().cost("SmolLM2-135M", usage),
            Some(0.5)
        );
    }
}
