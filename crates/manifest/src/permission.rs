//! Permissions a plugin requests in `plugin.toml`, their textual form
//! (`family(argument)` or `family`) and the risk each one carries.
//!
//! There is exactly one enum so that every consumer (the consent prompt, the
//! sandbox, the store) has to handle every permission: adding a family is a
//! compile error everywhere it is not yet handled.

use std::fmt;
use std::str::FromStr;

use crate::fs::{FsPath, FsRoot};
use crate::ids::{EnvName, PluginId, check_env_like};
use crate::net::NetTarget;
use crate::risk::RiskLevel;
use crate::topic::Topic;

/// The kind of a permission, without its argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PermissionFamily {
    FsRead,
    FsWrite,
    Net,
    Env,
    Secret,
    Exec,
    Db,
    Ai,
    SysMetrics,
    StateShared,
    EventsPublish,
    EventsSubscribe,
    Message,
    Tty,
}

/// All family names, for error messages; kept in sync with
/// [`PermissionFamily::ALL`] by a test.
const FAMILY_LIST: &str = "fs-read, fs-write, net, env, secret, exec, db, ai, sys-metrics, state-shared, events-publish, events-subscribe, message, tty";

impl PermissionFamily {
    /// Every family, in the order used by documentation and messages.
    pub const ALL: [PermissionFamily; 14] = [
        Self::FsRead,
        Self::FsWrite,
        Self::Net,
        Self::Env,
        Self::Secret,
        Self::Exec,
        Self::Db,
        Self::Ai,
        Self::SysMetrics,
        Self::StateShared,
        Self::EventsPublish,
        Self::EventsSubscribe,
        Self::Message,
        Self::Tty,
    ];

    /// The name used in manifests, e.g. `fs-read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FsRead => "fs-read",
            Self::FsWrite => "fs-write",
            Self::Net => "net",
            Self::Env => "env",
            Self::Secret => "secret",
            Self::Exec => "exec",
            Self::Db => "db",
            Self::Ai => "ai",
            Self::SysMetrics => "sys-metrics",
            Self::StateShared => "state-shared",
            Self::EventsPublish => "events-publish",
            Self::EventsSubscribe => "events-subscribe",
            Self::Message => "message",
            Self::Tty => "tty",
        }
    }

    /// How to write a permission of this family, for error messages.
    pub fn usage(self) -> &'static str {
        match self {
            Self::FsRead => {
                "`fs-read(ROOT)` or `fs-read(ROOT/sub/path)` with ROOT one of $PROJECT, $PLUGIN_DATA, $TMP"
            }
            Self::FsWrite => {
                "`fs-write(ROOT)` or `fs-write(ROOT/sub/path)` with ROOT one of $PROJECT, $PLUGIN_DATA, $TMP"
            }
            Self::Net => {
                "`net(HOST)` or `net(HOST:PORT)` with HOST a DNS name, an IPv4 address, `[ipv6]` or `*`, and PORT 1..=65535"
            }
            Self::Env => {
                "`env(NAME)` with NAME made of ASCII letters, digits and `_`, like `env(HOME)`"
            }
            Self::Secret => {
                "`secret(NAME)` with NAME made of ASCII letters, digits and `_`, like `secret(GITHUB_TOKEN)`"
            }
            Self::Exec => {
                "`exec(PROGRAM)` with PROGRAM a plain program name without `/`, like `exec(git)`"
            }
            Self::Db => {
                "`db(PROFILE)` with PROFILE made of `a-z`, `0-9`, `_` and `-`, like `db(main)`"
            }
            Self::Ai => {
                "`ai(PROVIDER)` with PROVIDER made of `a-z`, `0-9`, `_` and `-`, like `ai(default)`"
            }
            Self::SysMetrics => {
                "`sys-metrics`, or `sys-metrics(command-lines)` to read processes' command lines too"
            }
            Self::StateShared => {
                "`state-shared(KEY)` with KEY made of `a-z`, `0-9`, `_`, `.` and `-`, like `state-shared(build.cache)`"
            }
            Self::EventsPublish => {
                "`events-publish(TOPIC)` with TOPIC dot-separated segments of `a-z`, `0-9`, `_` and `-`, like `events-publish(build.done)`"
            }
            Self::EventsSubscribe => {
                "`events-subscribe(PATTERN)` with PATTERN dot-separated segments of `a-z`, `0-9`, `_` and `-`, or `*` (one segment) and `**` (any number), like `events-subscribe(build.*)`"
            }
            Self::Message => {
                "`message(PLUGIN-ID)` with PLUGIN-ID another plugin's id (lowercase letters, digits and single `-`), like `message(notes)`"
            }
            Self::Tty => "`tty` with no argument",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|family| family.as_str() == name)
    }
}

impl fmt::Display for PermissionFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One permission a plugin requests.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub enum Permission {
    /// Read files under a root.
    FsRead(FsPath),
    /// Create, change and delete files under a root.
    FsWrite(FsPath),
    /// Open connections to a host.
    Net(NetTarget),
    /// Read one environment variable of the user's shell.
    Env(EnvName),
    /// Read one secret from the user's secret store (same charset as `Env`).
    Secret(String),
    /// Run one program on the host, by plain name.
    Exec(String),
    /// Use one configured database profile.
    Db(String),
    /// Use one configured AI provider.
    Ai(String),
    /// Read the machine's figures: CPU, memory, disks, network, processes
    /// (without their command lines) and containers.
    SysMetrics,
    /// The same, and each process's command line, which can hold
    /// passwords and tokens passed as arguments: `sys-metrics(command-lines)`.
    SysMetricsCommandLines,
    /// Read and write one key of the store shared between plugins.
    StateShared(String),
    /// Publish events on one topic.
    EventsPublish(Topic),
    /// Receive events matching a topic pattern.
    EventsSubscribe(Topic),
    /// Send messages to one other plugin.
    Message(PluginId),
    /// Interact with the terminal directly (prompts, raw mode).
    Tty,
}

impl Permission {
    /// The folder an `fs-read` or `fs-write` grant names; `None` for the
    /// families that name none.
    pub fn folder(&self) -> Option<&FsPath> {
        match self {
            Self::FsRead(path) | Self::FsWrite(path) => Some(path),
            Self::Net(_)
            | Self::Env(_)
            | Self::Secret(_)
            | Self::Exec(_)
            | Self::Db(_)
            | Self::Ai(_)
            | Self::SysMetrics
            | Self::SysMetricsCommandLines
            | Self::StateShared(_)
            | Self::EventsPublish(_)
            | Self::EventsSubscribe(_)
            | Self::Message(_)
            | Self::Tty => None,
        }
    }

    /// The family, without the argument.
    pub fn family(&self) -> PermissionFamily {
        match self {
            Self::FsRead(_) => PermissionFamily::FsRead,
            Self::FsWrite(_) => PermissionFamily::FsWrite,
            Self::Net(_) => PermissionFamily::Net,
            Self::Env(_) => PermissionFamily::Env,
            Self::Secret(_) => PermissionFamily::Secret,
            Self::Exec(_) => PermissionFamily::Exec,
            Self::Db(_) => PermissionFamily::Db,
            Self::Ai(_) => PermissionFamily::Ai,
            Self::SysMetrics | Self::SysMetricsCommandLines => PermissionFamily::SysMetrics,
            Self::StateShared(_) => PermissionFamily::StateShared,
            Self::EventsPublish(_) => PermissionFamily::EventsPublish,
            Self::EventsSubscribe(_) => PermissionFamily::EventsSubscribe,
            Self::Message(_) => PermissionFamily::Message,
            Self::Tty => PermissionFamily::Tty,
        }
    }

    /// What the permission lets a plugin do, in words a user reads before
    /// granting it (`lord pdk docs`, validation findings).
    pub fn describe(&self) -> String {
        match self {
            Self::FsRead(path) => format!("read files under {path}"),
            Self::FsWrite(path) => format!("create, change and delete files under {path}"),
            Self::Net(target) => {
                format!("open network connections and send HTTP requests to {target}")
            }
            Self::Env(name) => format!("read the environment variable {name}"),
            Self::Secret(name) => {
                format!("read the secret `{name}` you stored with `lord secret set`")
            }
            Self::Exec(program) => format!(
                "run the program `{program}` on your machine, outside the sandbox, with your own \
                 authority: it can do anything you can"
            ),
            Self::Db(profile) => format!("use the database profile `{profile}`"),
            Self::Ai(provider) => format!("send requests to the AI provider `{provider}`"),
            Self::SysMetrics => "read this machine's CPU, memory, disk, network, process and \
                                 container figures (not command lines)"
                .to_owned(),
            Self::SysMetricsCommandLines => "read this machine's CPU, memory, disk, network, \
                                             process and container figures, and every \
                                             process's command line, which can hold passwords \
                                             and tokens passed as arguments"
                .to_owned(),
            Self::StateShared(key) => {
                format!("read and write the value `{key}` that plugins share")
            }
            Self::EventsPublish(topic) => format!("publish events on `{topic}`"),
            Self::EventsSubscribe(topic) => format!("receive events matching `{topic}`"),
            Self::Message(plugin) => format!("send requests and messages to the plugin `{plugin}`"),
            Self::Tty => "read your terminal directly (prompts, raw mode)".to_owned(),
        }
    }

    /// How much harm this permission allows; see the comment on each arm.
    pub fn risk(&self) -> RiskLevel {
        match self {
            // Reading the plugin's own data or scratch space exposes nothing
            // of the user's; reading the project exposes their source code.
            Self::FsRead(path) => match path.root {
                FsRoot::PluginData | FsRoot::Tmp => RiskLevel::Low,
                FsRoot::Project => RiskLevel::Medium,
            },
            // Writing its own space can only fill the disk or corrupt the
            // plugin itself; writing the project can destroy the user's work.
            Self::FsWrite(path) => match path.root {
                FsRoot::PluginData | FsRoot::Tmp => RiskLevel::Medium,
                FsRoot::Project => RiskLevel::High,
            },
            // Any network access can exfiltrate whatever else the plugin can
            // read; talking to every host removes all control over where.
            Self::Net(target) => {
                if target.is_any_host() {
                    RiskLevel::Critical
                } else {
                    RiskLevel::High
                }
            }
            // Environment variables often carry configuration and, by
            // accident, tokens, but the user chose which one is shared.
            Self::Env(_) => RiskLevel::Medium,
            // A secret is a credential by definition.
            Self::Secret(_) => RiskLevel::High,
            // A host program runs outside the sandbox with the user's rights.
            Self::Exec(_) => RiskLevel::Critical,
            // Databases hold real data and the profile usually allows writes.
            Self::Db(_) => RiskLevel::High,
            // Prompts leave the machine and cost money, but through a provider
            // the user configured.
            Self::Ai(_) => RiskLevel::Medium,
            // Load figures and process names reveal little about the user.
            Self::SysMetrics => RiskLevel::Low,
            // Command lines are where people pass passwords and tokens
            // (`mysql -pSECRET`, `curl -H "Authorization: ..."`), of every
            // process on the machine, not only the user's.
            Self::SysMetricsCommandLines => RiskLevel::High,
            // One key in a store that only plugins use.
            Self::StateShared(_) => RiskLevel::Low,
            // Events travel between plugins only, on named topics.
            Self::EventsPublish(_) | Self::EventsSubscribe(_) => RiskLevel::Low,
            // The receiving plugin is itself sandboxed and must accept.
            Self::Message(_) => RiskLevel::Low,
            // The terminal is already the plugin's output channel.
            Self::Tty => RiskLevel::Low,
        }
    }

    /// The argument as written between the parentheses, if the family has one.
    fn argument(&self) -> Option<String> {
        match self {
            Self::FsRead(path) | Self::FsWrite(path) => Some(path.to_string()),
            Self::Net(target) => Some(target.to_string()),
            Self::Env(name) => Some(name.to_string()),
            Self::Secret(text)
            | Self::Exec(text)
            | Self::Db(text)
            | Self::Ai(text)
            | Self::StateShared(text) => Some(text.clone()),
            Self::EventsPublish(topic) | Self::EventsSubscribe(topic) => Some(topic.to_string()),
            Self::Message(id) => Some(id.to_string()),
            Self::SysMetricsCommandLines => Some(COMMAND_LINES.to_owned()),
            Self::SysMetrics | Self::Tty => None,
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.argument() {
            Some(argument) => write!(f, "{}({argument})", self.family()),
            None => write!(f, "{}", self.family()),
        }
    }
}

/// Why a string is not a permission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    #[error(
        "permission is empty; expected `family` or `family(argument)` with family one of: {FAMILY_LIST}"
    )]
    Empty,
    #[error("malformed permission `{text}`: {problem}; expected `family` or `family(argument)`")]
    Malformed { text: String, problem: &'static str },
    #[error("unknown permission family `{family}`; expected one of: {FAMILY_LIST}")]
    UnknownFamily { family: String },
    #[error("`{family}` needs an argument; expected {}", .family.usage())]
    MissingArgument { family: PermissionFamily },
    #[error("`{family}` takes no argument; expected {}", .family.usage())]
    UnexpectedArgument { family: PermissionFamily },
    #[error("invalid `{family}` argument `{argument}`: {problem}; expected {}", .family.usage())]
    InvalidArgument {
        family: PermissionFamily,
        argument: String,
        problem: String,
    },
}

/// The one argument `sys-metrics` takes.
const COMMAND_LINES: &str = "command-lines";

/// Longest free-form argument (secret, program, profile, provider, key).
const MAX_ARG_LEN: usize = 128;

/// Checks a short name made only of the characters `allowed` accepts.
fn check_word(text: &str, allowed: impl Fn(char) -> bool, chars: &str) -> Result<(), String> {
    if text.len() > MAX_ARG_LEN {
        return Err(format!(
            "it is {} characters long; allowed at most {MAX_ARG_LEN}",
            text.len()
        ));
    }
    match text.chars().find(|c| !allowed(*c)) {
        Some(bad) => Err(format!(
            "character `{bad}` is not allowed; use only {chars}"
        )),
        None => Ok(()),
    }
}

fn is_slug_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
}

fn check_program(text: &str) -> Result<(), String> {
    if text.contains('/') || text.contains('\\') {
        return Err(
            "paths are not allowed, only a plain program name looked up on the host".to_owned(),
        );
    }
    if text == "." || text == ".." || text.starts_with('-') {
        return Err("a program name cannot be `.`, `..` or start with `-`".to_owned());
    }
    check_word(
        text,
        |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'),
        "ASCII letters, digits, `_`, `-`, `.` and `+`",
    )
}

impl FromStr for Permission {
    type Err = PermissionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = |problem| PermissionError::Malformed {
            text: text.to_owned(),
            problem,
        };
        if text.is_empty() {
            return Err(PermissionError::Empty);
        }
        if text.trim() != text {
            return Err(malformed("remove the surrounding whitespace"));
        }
        let (name, argument) = match text.split_once('(') {
            None if text.contains(')') => return Err(malformed("`)` without a matching `(`")),
            None => (text, None),
            Some((name, rest)) => {
                let argument = rest
                    .strip_suffix(')')
                    .ok_or_else(|| malformed("the argument must end with `)`"))?;
                if argument.contains(['(', ')']) {
                    return Err(malformed("arguments cannot contain parentheses"));
                }
                (name, Some(argument))
            }
        };
        let family =
            PermissionFamily::from_name(name).ok_or_else(|| PermissionError::UnknownFamily {
                family: name.to_owned(),
            })?;
        let Some(argument) = argument else {
            return match family {
                PermissionFamily::SysMetrics => Ok(Self::SysMetrics),
                PermissionFamily::Tty => Ok(Self::Tty),
                PermissionFamily::FsRead
                | PermissionFamily::FsWrite
                | PermissionFamily::Net
                | PermissionFamily::Env
                | PermissionFamily::Secret
                | PermissionFamily::Exec
                | PermissionFamily::Db
                | PermissionFamily::Ai
                | PermissionFamily::StateShared
                | PermissionFamily::EventsPublish
                | PermissionFamily::EventsSubscribe
                | PermissionFamily::Message => Err(PermissionError::MissingArgument { family }),
            };
        };
        let invalid = |problem: String| PermissionError::InvalidArgument {
            family,
            argument: argument.to_owned(),
            problem,
        };
        if argument.is_empty() {
            return match family {
                PermissionFamily::SysMetrics | PermissionFamily::Tty => {
                    Err(PermissionError::UnexpectedArgument { family })
                }
                PermissionFamily::FsRead
                | PermissionFamily::FsWrite
                | PermissionFamily::Net
                | PermissionFamily::Env
                | PermissionFamily::Secret
                | PermissionFamily::Exec
                | PermissionFamily::Db
                | PermissionFamily::Ai
                | PermissionFamily::StateShared
                | PermissionFamily::EventsPublish
                | PermissionFamily::EventsSubscribe
                | PermissionFamily::Message => Err(PermissionError::MissingArgument { family }),
            };
        }
        let owned = || argument.to_owned();
        match family {
            PermissionFamily::FsRead => FsPath::parse(argument).map(Self::FsRead).map_err(invalid),
            PermissionFamily::FsWrite => {
                FsPath::parse(argument).map(Self::FsWrite).map_err(invalid)
            }
            PermissionFamily::Net => NetTarget::parse(argument).map(Self::Net).map_err(invalid),
            PermissionFamily::Env => EnvName::new(argument)
                .map(Self::Env)
                .map_err(|e| invalid(e.problem())),
            PermissionFamily::Secret => check_env_like("secret name", argument, MAX_ARG_LEN)
                .map(|()| Self::Secret(owned()))
                .map_err(|e| invalid(e.problem())),
            PermissionFamily::Exec => check_program(argument)
                .map(|()| Self::Exec(owned()))
                .map_err(invalid),
            PermissionFamily::Db => check_word(argument, is_slug_char, "`a-z`, `0-9`, `_` and `-`")
                .map(|()| Self::Db(owned()))
                .map_err(invalid),
            PermissionFamily::Ai => check_word(argument, is_slug_char, "`a-z`, `0-9`, `_` and `-`")
                .map(|()| Self::Ai(owned()))
                .map_err(invalid),
            PermissionFamily::StateShared => check_word(
                argument,
                |c| is_slug_char(c) || c == '.',
                "`a-z`, `0-9`, `_`, `.` and `-`",
            )
            .map(|()| Self::StateShared(owned()))
            .map_err(invalid),
            PermissionFamily::EventsPublish => Topic::parse(argument, false)
                .map(Self::EventsPublish)
                .map_err(invalid),
            PermissionFamily::EventsSubscribe => Topic::parse(argument, true)
                .map(Self::EventsSubscribe)
                .map_err(invalid),
            PermissionFamily::Message => PluginId::new(argument)
                .map(Self::Message)
                .map_err(|e| invalid(e.problem())),
            PermissionFamily::SysMetrics if argument == COMMAND_LINES => {
                Ok(Self::SysMetricsCommandLines)
            }
            PermissionFamily::SysMetrics => {
                Err(invalid(format!("the only argument is `{COMMAND_LINES}`")))
            }
            PermissionFamily::Tty => Err(PermissionError::UnexpectedArgument { family }),
        }
    }
}

impl TryFrom<String> for Permission {
    type Error = PermissionError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Permission> for String {
    fn from(permission: Permission) -> Self {
        permission.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&str, &str>) {
        let got = input
            .parse::<Permission>()
            .map(|p| p.to_string())
            .map_err(|e| e.to_string());
        assert_eq!(
            got,
            expected.map(str::to_owned).map_err(str::to_owned),
            "input {input:?}"
        );
    }

    #[test]
    fn family_list_matches_all() {
        let names: Vec<&str> = PermissionFamily::ALL.iter().map(|f| f.as_str()).collect();
        assert_eq!(names.join(", "), FAMILY_LIST);
    }

    #[test]
    fn every_family_round_trips() {
        let cases = [
            ("fs-read($PROJECT)", PermissionFamily::FsRead),
            ("fs-read($PLUGIN_DATA/cache/v1)", PermissionFamily::FsRead),
            ("fs-write($TMP/out)", PermissionFamily::FsWrite),
            ("net(api.example.com:443)", PermissionFamily::Net),
            ("net([::1]:8080)", PermissionFamily::Net),
            ("net(*)", PermissionFamily::Net),
            ("env(HOME)", PermissionFamily::Env),
            ("secret(GITHUB_TOKEN)", PermissionFamily::Secret),
            ("exec(git)", PermissionFamily::Exec),
            ("exec(clang++)", PermissionFamily::Exec),
            ("db(main)", PermissionFamily::Db),
            ("ai(open-router_2)", PermissionFamily::Ai),
            ("sys-metrics", PermissionFamily::SysMetrics),
            ("sys-metrics(command-lines)", PermissionFamily::SysMetrics),
            (
                "state-shared(build.cache-v2)",
                PermissionFamily::StateShared,
            ),
            (
                "events-publish(build.done)",
                PermissionFamily::EventsPublish,
            ),
            (
                "events-subscribe(build.**)",
                PermissionFamily::EventsSubscribe,
            ),
            ("message(notes)", PermissionFamily::Message),
            ("tty", PermissionFamily::Tty),
        ];
        for (text, family) in cases {
            let permission: Permission = text.parse().unwrap();
            assert_eq!(permission.family(), family, "{text}");
            assert_eq!(permission.to_string(), text);
            let json = serde_json::to_string(&permission).unwrap();
            assert_eq!(
                serde_json::from_str::<Permission>(&json).unwrap(),
                permission
            );
        }
        let covered: std::collections::BTreeSet<_> =
            cases.iter().map(|(_, family)| *family).collect();
        assert_eq!(covered.len(), PermissionFamily::ALL.len());
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            (
                "",
                "permission is empty; expected `family` or `family(argument)` with family one of: fs-read, fs-write, net, env, secret, exec, db, ai, sys-metrics, state-shared, events-publish, events-subscribe, message, tty",
            ),
            (
                "fs-raed($PROJECT)",
                "unknown permission family `fs-raed`; expected one of: fs-read, fs-write, net, env, secret, exec, db, ai, sys-metrics, state-shared, events-publish, events-subscribe, message, tty",
            ),
            (
                " tty",
                "malformed permission ` tty`: remove the surrounding whitespace; expected `family` or `family(argument)`",
            ),
            (
                "env(HOME",
                "malformed permission `env(HOME`: the argument must end with `)`; expected `family` or `family(argument)`",
            ),
            (
                "env(a(b))",
                "malformed permission `env(a(b))`: arguments cannot contain parentheses; expected `family` or `family(argument)`",
            ),
            (
                "tty)",
                "malformed permission `tty)`: `)` without a matching `(`; expected `family` or `family(argument)`",
            ),
            (
                "net",
                "`net` needs an argument; expected `net(HOST)` or `net(HOST:PORT)` with HOST a DNS name, an IPv4 address, `[ipv6]` or `*`, and PORT 1..=65535",
            ),
            (
                "env()",
                "`env` needs an argument; expected `env(NAME)` with NAME made of ASCII letters, digits and `_`, like `env(HOME)`",
            ),
            (
                "tty(x)",
                "`tty` takes no argument; expected `tty` with no argument",
            ),
            (
                "sys-metrics()",
                "`sys-metrics` takes no argument; expected `sys-metrics`, or `sys-metrics(command-lines)` to read processes' command lines too",
            ),
            (
                "sys-metrics(argv)",
                "invalid `sys-metrics` argument `argv`: the only argument is `command-lines`; expected `sys-metrics`, or `sys-metrics(command-lines)` to read processes' command lines too",
            ),
            (
                "fs-read(/etc)",
                "invalid `fs-read` argument `/etc`: absolute paths are not allowed; use one of the roots $PROJECT, $PLUGIN_DATA or $TMP; expected `fs-read(ROOT)` or `fs-read(ROOT/sub/path)` with ROOT one of $PROJECT, $PLUGIN_DATA, $TMP",
            ),
            (
                "fs-write($PROJECT/../x)",
                "invalid `fs-write` argument `$PROJECT/../x`: `..` segments are not allowed; the path must stay inside its root; expected `fs-write(ROOT)` or `fs-write(ROOT/sub/path)` with ROOT one of $PROJECT, $PLUGIN_DATA, $TMP",
            ),
            (
                "net(example.com:99999)",
                "invalid `net` argument `example.com:99999`: port `99999` is not valid; allowed 1..=65535, or leave it out for any port; expected `net(HOST)` or `net(HOST:PORT)` with HOST a DNS name, an IPv4 address, `[ipv6]` or `*`, and PORT 1..=65535",
            ),
            (
                "env(MY-VAR)",
                "invalid `env` argument `MY-VAR`: character `-` is not allowed; expected `env(NAME)` with NAME made of ASCII letters, digits and `_`, like `env(HOME)`",
            ),
            (
                "secret(9LIVES)",
                "invalid `secret` argument `9LIVES`: it must not start with a digit; expected `secret(NAME)` with NAME made of ASCII letters, digits and `_`, like `secret(GITHUB_TOKEN)`",
            ),
            (
                "exec(/bin/sh)",
                "invalid `exec` argument `/bin/sh`: paths are not allowed, only a plain program name looked up on the host; expected `exec(PROGRAM)` with PROGRAM a plain program name without `/`, like `exec(git)`",
            ),
            (
                "exec(-rf)",
                "invalid `exec` argument `-rf`: a program name cannot be `.`, `..` or start with `-`; expected `exec(PROGRAM)` with PROGRAM a plain program name without `/`, like `exec(git)`",
            ),
            (
                "db(Main)",
                "invalid `db` argument `Main`: character `M` is not allowed; use only `a-z`, `0-9`, `_` and `-`; expected `db(PROFILE)` with PROFILE made of `a-z`, `0-9`, `_` and `-`, like `db(main)`",
            ),
            (
                "ai(open ai)",
                "invalid `ai` argument `open ai`: character ` ` is not allowed; use only `a-z`, `0-9`, `_` and `-`; expected `ai(PROVIDER)` with PROVIDER made of `a-z`, `0-9`, `_` and `-`, like `ai(default)`",
            ),
            (
                "state-shared(a/b)",
                "invalid `state-shared` argument `a/b`: character `/` is not allowed; use only `a-z`, `0-9`, `_`, `.` and `-`; expected `state-shared(KEY)` with KEY made of `a-z`, `0-9`, `_`, `.` and `-`, like `state-shared(build.cache)`",
            ),
            (
                "events-publish(build.*)",
                "invalid `events-publish` argument `build.*`: wildcards are only allowed in `events-subscribe`; expected `events-publish(TOPIC)` with TOPIC dot-separated segments of `a-z`, `0-9`, `_` and `-`, like `events-publish(build.done)`",
            ),
            (
                "message(Notes)",
                "invalid `message` argument `Notes`: character `N` is not allowed; expected `message(PLUGIN-ID)` with PLUGIN-ID another plugin's id (lowercase letters, digits and single `-`), like `message(notes)`",
            ),
        ];
        for (input, expected) in cases {
            check(input, Err(expected));
        }
    }

    #[test]
    fn risk_table() {
        let cases = [
            ("fs-read($PLUGIN_DATA)", RiskLevel::Low),
            ("fs-read($TMP/x)", RiskLevel::Low),
            ("fs-read($PROJECT)", RiskLevel::Medium),
            ("fs-write($PLUGIN_DATA)", RiskLevel::Medium),
            ("fs-write($TMP)", RiskLevel::Medium),
            ("fs-write($PROJECT/out)", RiskLevel::High),
            ("net(example.com)", RiskLevel::High),
            ("net(10.0.0.1:80)", RiskLevel::High),
            ("net(*)", RiskLevel::Critical),
            ("net(*:443)", RiskLevel::Critical),
            ("env(HOME)", RiskLevel::Medium),
            ("secret(TOKEN)", RiskLevel::High),
            ("exec(git)", RiskLevel::Critical),
            ("db(main)", RiskLevel::High),
            ("ai(default)", RiskLevel::Medium),
            ("sys-metrics", RiskLevel::Low),
            ("sys-metrics(command-lines)", RiskLevel::High),
            ("state-shared(k)", RiskLevel::Low),
            ("events-publish(a.b)", RiskLevel::Low),
            ("events-subscribe(a.*)", RiskLevel::Low),
            ("message(other)", RiskLevel::Low),
            ("tty", RiskLevel::Low),
        ];
        for (text, expected) in cases {
            assert_eq!(
                text.parse::<Permission>().unwrap().risk(),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn serde_rejects_bad_text() {
        let err = serde_json::from_str::<Permission>("\"fs-raed\"").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown permission family `fs-raed`"),
            "{err}"
        );
    }
}
