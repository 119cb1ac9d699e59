//! Prompt templates and roles, kept as TOML files under
//! `$LORD_HOME/ai/templates/` and `$LORD_HOME/ai/roles/`. A template is a
//! minijinja prompt (`{{ topic }}`) with defaults for its variables, and
//! optionally a system prompt, a role and a model; a role is a named
//! system prompt. Rendering is strict: a variable with no value and no
//! default is an error naming it, never an empty string in the prompt.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::AiError;

/// A prompt template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Template {
    #[serde(skip)]
    pub name: String,
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// A role (by name) whose system prompt comes first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub defaults: BTreeMap<String, String>,
}

/// A template's text with its variables filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub system: Option<String>,
    pub prompt: String,
}

impl Template {
    /// Fills in `vars` over the defaults.
    pub fn render(&self, vars: &BTreeMap<String, String>) -> Result<Rendered, AiError> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let mut values = self.defaults.clone();
        values.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        let render = |text: &str, what: &str| {
            // Name the first variable with no value: minijinja's own error
            // says only "undefined value".
            if let Ok(parsed) = env.template_from_str(text) {
                let mut missing: Vec<String> = parsed
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|name| !values.contains_key(name))
                    .collect();
                missing.sort();
                if let Some(name) = missing.first() {
                    return Err(AiError::Invalid(format!(
                        "the template `{}` ({what}) needs the variable `{name}`; give it with \
                         `-p {name} VALUE` or a default in the template",
                        self.name
                    )));
                }
            }
            env.render_str(text, &values).map_err(|e| {
                AiError::Invalid(format!(
                    "the template `{}` ({what}): {e}; give the variable with `-p NAME VALUE` \
                     or a default in the template",
                    self.name
                ))
            })
        };
        Ok(Rendered {
            system: self
                .system
                .as_deref()
                .map(|s| render(s, "system"))
                .transpose()?,
            prompt: render(&self.prompt, "prompt")?,
        })
    }
}

/// A role: a named system prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RoleFile {
    pub(crate) system: String,
}

/// The templates and roles under a folder.
#[derive(Debug, Clone)]
pub struct Library {
    root: PathBuf,
}

fn valid_name(name: &str) -> Result<(), AiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(AiError::Invalid(format!(
            "`{name}` is not a usable name: use up to 64 letters, digits, `-` and `_`"
        )))
    }
}

impl Library {
    /// The library under `root` (`$LORD_HOME/ai`).
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    fn file(&self, kind: &str, name: &str) -> Result<PathBuf, AiError> {
        valid_name(name)?;
        Ok(self.root.join(kind).join(format!("{name}.toml")))
    }

    fn read<T: serde::de::DeserializeOwned>(&self, kind: &str, name: &str) -> Result<T, AiError> {
        let path = self.file(kind, name)?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                AiError::Invalid(format!(
                    "there is no {} `{name}`; see `lord ai {} list`",
                    &kind[..kind.len() - 1],
                    &kind[..kind.len() - 1]
                ))
            } else {
                AiError::File {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                }
            }
        })?;
        toml::from_str(&text).map_err(|e| AiError::File {
            path: path.display().to_string(),
            detail: e.to_string(),
        })
    }

    fn write<T: Serialize>(&self, kind: &str, name: &str, value: &T) -> Result<(), AiError> {
        let path = self.file(kind, name)?;
        let text = toml::to_string_pretty(value).map_err(|e| AiError::Invalid(e.to_string()))?;
        let file_error = |detail: String| AiError::File {
            path: path.display().to_string(),
            detail,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| file_error(e.to_string()))?;
        }
        lord_file::write_atomic(&path, text.as_bytes()).map_err(|e| file_error(e.to_string()))
    }

    fn names(&self, kind: &str) -> Result<Vec<String>, AiError> {
        let dir = self.root.join(kind);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(AiError::File {
                    path: dir.display().to_string(),
                    detail: e.to_string(),
                });
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".toml"))
                    .map(str::to_owned)
            })
            .filter(|n| valid_name(n).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }

    fn remove(&self, kind: &str, name: &str) -> Result<bool, AiError> {
        let path = self.file(kind, name)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(AiError::File {
                path: path.display().to_string(),
                detail: e.to_string(),
            }),
        }
    }

    pub fn template(&self, name: &str) -> Result<Template, AiError> {
        let mut template: Template = self.read("templates", name)?;
        template.name = name.to_owned();
        // Check the text parses now, not when a variable is missing later.
        minijinja::Environment::new()
            .template_from_str(&template.prompt)
            .map_err(|e| AiError::Invalid(format!("the template `{name}` does not parse: {e}")))?;
        Ok(template)
    }

    pub fn save_template(&self, template: &Template) -> Result<(), AiError> {
        minijinja::Environment::new()
            .template_from_str(&template.prompt)
            .map_err(|e| {
                AiError::Invalid(format!("the prompt does not parse as a template: {e}"))
            })?;
        self.write("templates", &template.name, template)
    }

    pub fn templates(&self) -> Result<Vec<String>, AiError> {
        self.names("templates")
    }

    pub fn remove_template(&self, name: &str) -> Result<bool, AiError> {
        self.remove("templates", name)
    }

    pub fn role(&self, name: &str) -> Result<String, AiError> {
        Ok(self.read::<RoleFile>("roles", name)?.system)
    }

    pub fn save_role(&self, name: &str, system: &str) -> Result<(), AiError> {
        self.write(
            "roles",
            name,
            &RoleFile {
                system: system.to_owned(),
            },
        )
    }

    pub fn roles(&self) -> Result<Vec<String>, AiError> {
        self.names("roles")
    }

    pub fn remove_role(&self, name: &str) -> Result<bool, AiError> {
        self.remove("roles", name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_fill_over_defaults_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::new(dir.path());
        let mut defaults = BTreeMap::new();
        defaults.insert("tone".to_owned(), "plain".to_owned());
        library
            .save_template(&Template {
                name: "sum".into(),
                prompt: "Summarise {{ text }} in a {{ tone }} tone".into(),
                defaults,
                ..Template::default()
            })
            .unwrap();
        let template = library.template("sum").unwrap();
        let mut vars = BTreeMap::new();
        let error = template.render(&vars).unwrap_err().to_string();
        assert!(error.contains("text"), "{error}");
        vars.insert("text".to_owned(), "this".to_owned());
        assert_eq!(
            template.render(&vars).unwrap().prompt,
            "Summarise this in a plain tone"
        );
        assert_eq!(library.templates().unwrap(), vec!["sum"]);
        assert!(library.template("../x").is_err());
    }
}
