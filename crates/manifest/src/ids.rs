//! Typed identifiers used by manifests: plugin ids, command and argument
//! names, and environment variable names.
//!
//! Each one is validated once, when it is built, so code holding a
//! `PluginId` never has to re-check it before using it in a path, a database
//! key or a command line.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string is empty.
    #[error("{kind} is empty; expected {rules}")]
    Empty {
        kind: &'static str,
        rules: &'static str,
    },
    /// The string is longer than the identifier allows.
    #[error("{kind} is {len} characters long; allowed 1..={max}")]
    TooLong {
        kind: &'static str,
        len: usize,
        max: usize,
    },
    /// The string breaks the identifier's character rules.
    #[error("{kind} `{value}` is not valid: {problem}; expected {rules}")]
    Invalid {
        kind: &'static str,
        value: String,
        problem: String,
        rules: &'static str,
    },
}

impl IdError {
    /// Only what is wrong, without naming the kind of id or repeating the
    /// rules, for callers that embed it in a message of their own.
    pub(crate) fn problem(&self) -> String {
        match self {
            Self::Empty { .. } => "it is empty".to_owned(),
            Self::TooLong { len, max, .. } => {
                format!("it is {len} characters long; allowed 1..={max}")
            }
            Self::Invalid { problem, .. } => problem.clone(),
        }
    }
}

/// Rules shared by plugin ids and command names, which end up as directory
/// names and command-line words, hence lowercase kebab-case only.
const KEBAB_RULES: &str = "lowercase letters, digits and single `-` between them, starting with a letter (like `my-plugin`)";

/// Rules shared by environment variable and secret names: the portable
/// POSIX shell spelling, so every name can be exported on every platform.
const ENV_RULES: &str = "ASCII letters, digits and `_`, not starting with a digit (like `HOME`)";

/// Checks the length bounds common to every identifier.
fn check_length(
    kind: &'static str,
    rules: &'static str,
    value: &str,
    max: usize,
) -> Result<(), IdError> {
    let len = value.chars().count();
    if len == 0 {
        return Err(IdError::Empty { kind, rules });
    }
    if len > max {
        return Err(IdError::TooLong { kind, len, max });
    }
    Ok(())
}

/// Checks `[a-z][a-z0-9-]*` with no trailing `-` and no `--`.
pub(crate) fn check_kebab(kind: &'static str, value: &str, max: usize) -> Result<(), IdError> {
    check_length(kind, KEBAB_RULES, value, max)?;
    let invalid = |problem: String| IdError::Invalid {
        kind,
        value: value.to_owned(),
        problem,
        rules: KEBAB_RULES,
    };
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(invalid(format!("character `{bad}` is not allowed")));
    }
    if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(invalid("it must start with a lowercase letter".to_owned()));
    }
    if value.ends_with('-') {
        return Err(invalid("it must not end with `-`".to_owned()));
    }
    if value.contains("--") {
        return Err(invalid("it must not contain `--`".to_owned()));
    }
    Ok(())
}

/// Checks `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn check_env_like(kind: &'static str, value: &str, max: usize) -> Result<(), IdError> {
    check_length(kind, ENV_RULES, value, max)?;
    let invalid = |problem: String| IdError::Invalid {
        kind,
        value: value.to_owned(),
        problem,
        rules: ENV_RULES,
    };
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        return Err(invalid(format!("character `{bad}` is not allowed")));
    }
    if value.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(invalid("it must not start with a digit".to_owned()));
    }
    Ok(())
}

fn check_plugin_id(value: &str) -> Result<(), IdError> {
    check_kebab("plugin id", value, PluginId::MAX_LEN)
}

fn check_command_name(value: &str) -> Result<(), IdError> {
    check_kebab("command name", value, CommandName::MAX_LEN)
}

/// Micro-plugin ids are kebab-case segments joined by dots, so related
/// handlers group naturally (`validate.email`, `case.upper`).
fn check_micro_id(value: &str) -> Result<(), IdError> {
    check_length("micro-plugin id", MICRO_RULES, value, MicroId::MAX_LEN)?;
    for segment in value.split('.') {
        check_kebab("micro-plugin id segment", segment, MicroId::MAX_LEN).map_err(|e| {
            IdError::Invalid {
                kind: "micro-plugin id",
                value: value.to_owned(),
                problem: e.problem(),
                rules: MICRO_RULES,
            }
        })?;
    }
    Ok(())
}

const MICRO_RULES: &str = "kebab-case segments joined by `.` (like `trim` or `validate.email`)";

fn check_env_name(value: &str) -> Result<(), IdError> {
    check_env_like("environment variable name", value, EnvName::MAX_LEN)
}

/// Declares a validated string newtype with the conversions every id needs.
/// A macro keeps the three ids from drifting apart in what they implement.
macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, max = $max:literal, check = $check:path) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Longest accepted value, in characters.
            pub const MAX_LEN: usize = $max;

            /// Validates `value` and wraps it.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                $check(&value)?;
                Ok(Self(value))
            }

            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps a literal written in lord's own code, such as a
            /// built-in provider's id. It is checked in debug builds (and
            /// so by every test); release builds trust the literal.
            pub fn from_static(value: &'static str) -> Self {
                debug_assert!($check(value).is_ok(), "`{value}` is not a valid {}", stringify!($name));
                Self(value.to_owned())
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::new(value)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // Lets maps keyed by ids be queried with a plain `&str`; sound because
        // the derived Eq/Ord/Hash are exactly those of the inner string.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A plugin's identity: 1..=64 characters of `[a-z][a-z0-9-]*`, no
    /// trailing `-`, no `--`. Used as a directory name and a database key.
    PluginId,
    max = 64,
    check = check_plugin_id
);

string_id!(
    /// A command or argument name: same rules as [`PluginId`], 1..=32
    /// characters, since it is typed on the command line.
    CommandName,
    max = 32,
    check = check_command_name
);

string_id!(
    /// The id of a micro-plugin: kebab-case segments joined by `.`, 1..=64
    /// characters, e.g. `trim` or `validate.email`.
    MicroId,
    max = 64,
    check = check_micro_id
);

string_id!(
    /// An environment variable name: 1..=128 characters of
    /// `[A-Za-z_][A-Za-z0-9_]*`.
    EnvName,
    max = 128,
    check = check_env_name
);

impl CommandName {
    /// Validates with command-name rules but names the value `kind` in
    /// errors, since argument names follow the same rules.
    pub(crate) fn new_as(kind: &'static str, value: &str) -> Result<Self, IdError> {
        check_kebab(kind, value, Self::MAX_LEN)?;
        Ok(Self(value.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: FromStr<Err = IdError> + fmt::Display>(input: &str, expected: Result<&str, &str>) {
        let got = input
            .parse::<T>()
            .map(|id| id.to_string())
            .map_err(|e| e.to_string());
        let want = expected.map(str::to_owned).map_err(str::to_owned);
        assert_eq!(got, want, "input {input:?}");
    }

    #[test]
    fn micro_ids() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("trim", Ok("trim")),
            ("validate.email", Ok("validate.email")),
            ("case.upper-first", Ok("case.upper-first")),
            (
                "validate..email",
                Err(
                    "micro-plugin id `validate..email` is not valid: it is empty; expected kebab-case segments joined by `.` (like `trim` or `validate.email`)",
                ),
            ),
            (
                "Trim",
                Err(
                    "micro-plugin id `Trim` is not valid: character `T` is not allowed; expected kebab-case segments joined by `.` (like `trim` or `validate.email`)",
                ),
            ),
        ];
        for (input, expected) in cases {
            check::<MicroId>(input, *expected);
        }
    }

    #[test]
    fn plugin_ids() {
        let long = "a".repeat(65);
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("hello", Ok("hello")),
            ("my-plugin2", Ok("my-plugin2")),
            ("a", Ok("a")),
            (
                "",
                Err(
                    "plugin id is empty; expected lowercase letters, digits and single `-` between them, starting with a letter (like `my-plugin`)",
                ),
            ),
            (
                &long,
                Err("plugin id is 65 characters long; allowed 1..=64"),
            ),
            (
                "Hello",
                Err(
                    "plugin id `Hello` is not valid: character `H` is not allowed; expected lowercase letters, digits and single `-` between them, starting with a letter (like `my-plugin`)",
                ),
            ),
            (
                "2fast",
                Err(
                    "plugin id `2fast` is not valid: it must start with a lowercase letter; expected lowercase letters, digits and single `-` between them, starting with a letter (like `my-plugin`)",
                ),
            ),
            (
                "-x",
                Err(
                    "plugin id `-x` is not valid: it must start with a lowercase letter; expected lowercase letters, digits and single `-` between them, starting with a letter (like `my-plugin`)",
                ),
            ),
            (
                "x-",
                Err(
                    "plugin id `x-` is not valid: it must not end with `-`; expected lowercase letters, digits and single `-` between them, starting with a letter (like `my-plugin`)",
                ),
            ),
            (
                "a--b",
                Err(
                    "plugin id `a--b` is not valid: it must not contain `--`; expected lowercase letters, digits and single `-` between them, starting with a letter (like `my-plugin`)",
                ),
            ),
            (
                "a_b",
                Err(
                    "plugin id `a_b` is not valid: character `_` is not allowed; expected lowercase letters, digits and single `-` between them, starting with a letter (like `my-plugin`)",
                ),
            ),
        ];
        for (input, expected) in cases {
            check::<PluginId>(input, *expected);
        }
        check::<PluginId>(&"a".repeat(64), Ok(&"a".repeat(64)));
    }

    #[test]
    fn command_names() {
        check::<CommandName>("list-all", Ok("list-all"));
        check::<CommandName>(&"a".repeat(32), Ok(&"a".repeat(32)));
        check::<CommandName>(
            &"a".repeat(33),
            Err("command name is 33 characters long; allowed 1..=32"),
        );
        check::<CommandName>(
            "x--y",
            Err(
                "command name `x--y` is not valid: it must not contain `--`; expected lowercase letters, digits and single `-` between them, starting with a letter (like `my-plugin`)",
            ),
        );
    }

    #[test]
    fn env_names() {
        for good in ["HOME", "_x", "Path_2", "a"] {
            check::<EnvName>(good, Ok(good));
        }
        check::<EnvName>(
            "1X",
            Err(
                "environment variable name `1X` is not valid: it must not start with a digit; expected ASCII letters, digits and `_`, not starting with a digit (like `HOME`)",
            ),
        );
        check::<EnvName>(
            "MY-VAR",
            Err(
                "environment variable name `MY-VAR` is not valid: character `-` is not allowed; expected ASCII letters, digits and `_`, not starting with a digit (like `HOME`)",
            ),
        );
        check::<EnvName>(
            &"A".repeat(129),
            Err("environment variable name is 129 characters long; allowed 1..=128"),
        );
    }

    #[test]
    fn serde_goes_through_validation() {
        #[derive(Debug, serde::Deserialize, serde::Serialize)]
        struct Holder {
            id: PluginId,
        }
        let holder: Holder = toml::from_str("id = \"good-one\"").unwrap();
        assert_eq!(holder.id.as_str(), "good-one");
        assert_eq!(toml::to_string(&holder).unwrap(), "id = \"good-one\"\n");
        let err = toml::from_str::<Holder>("id = \"Bad\"").unwrap_err();
        assert!(
            err.message().contains("plugin id `Bad` is not valid"),
            "{err}"
        );
    }

    #[test]
    fn borrow_allows_str_lookups() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(PluginId::new("x").unwrap(), 1);
        assert_eq!(map.get("x"), Some(&1));
        assert_eq!(PluginId::new("x").unwrap().as_ref(), "x");
    }
}
