//! One table of what each permission family means: the host interfaces it
//! unlocks, how a grant of it reaches a running plugin, whether `lord pdk
//! record` can watch a plugin use it, and how it is summed up for people.
//!
//! Every consumer reads this table, or matches [`PermissionFamily`] or
//! [`Permission`](crate::Permission) exhaustively in exactly one place per
//! concern:
//!
//! | concern | where |
//! |---|---|
//! | interfaces a family unlocks (the contract check) | [`FamilyMeaning::interfaces`] |
//! | WASI context (preopens, variables, sockets, stdin) | `lord-host`'s `grants.rs`, for [`Wiring::Wasi`] |
//! | channel scope (shared keys, topics, secrets, targets) | `lord-state`'s `ScopeGrants`, for [`Wiring::Scope`] |
//! | risk of one permission | [`Permission::risk`](crate::Permission::risk) |
//! | words for one permission | [`Permission::describe`](crate::Permission::describe) |
//! | placeholder grant for recording | [`FamilyMeaning::record_placeholder`] |
//!
//! A new family does not compile until [`PermissionFamily::meaning`] has
//! its row; its host interface is then one module in `lord-sandbox` plus
//! its WIT.

use crate::permission::PermissionFamily;

/// WASI interfaces any plugin may import: they carry no authority by
/// themselves (clocks, randomness, streams), or their authority comes only
/// from grants the host wires in (filesystem preopens, environment
/// variables). Rust's standard library imports most of these even when
/// unused. The sandbox's contract check and `lord scan` both read this
/// list, so what install accepts and what a scan reports cannot drift.
pub const WASI_BASELINE: &[&str] = &[
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:filesystem/",
];

/// How a grant of a family reaches the plugin while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wiring {
    /// Through the grants the sandbox builds each instance from: the WASI
    /// context (preopened folders, chosen environment variables, the
    /// socket address check, the terminal's standard input), the
    /// programs `lord:plugin/exec` may run, each resolved to one path,
    /// what `lord:plugin/metrics` may read, and the profiles
    /// `lord:plugin/ai` may ask and `lord:plugin/sql` may reach.
    Wasi,
    /// Through the plugin's channel scope (`lord_state::Scope`): shared
    /// keys, topics, secrets and message targets, checked at each host call.
    Scope,
    /// Nothing in this host serves the family yet: a grant of it reaches
    /// nothing, and the contract check refuses a component that imports an
    /// interface for it.
    Unserved,
}

/// What one permission family means to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyMeaning {
    /// Interface name prefixes a component may import only with a grant of
    /// this family (`lord:plugin/shared`, `wasi:sockets/`). Empty when the
    /// family works through WASI interfaces every plugin imports anyway
    /// (files, variables, the terminal), or is not served yet. A family
    /// with interfaces is one whose use shows in a component's imports.
    pub interfaces: &'static [&'static str],
    pub wiring: Wiring,
    /// A grant that matches nothing a plugin could really use, so that
    /// `lord pdk record` can load the plugin with the family's interface
    /// linked and watch which real accesses are refused. `None` where a
    /// use cannot be observed: without a grant there is no folder or
    /// variable for the host to refuse, or no interface at all.
    pub record_placeholder: Option<&'static str>,
    /// The family in a few words, for documentation and findings.
    pub summary: &'static str,
}

impl FamilyMeaning {
    /// Whether a component's imports reveal that it uses the family (so a
    /// requested but unused grant can be flagged).
    pub fn visible_in_imports(&self) -> bool {
        !self.interfaces.is_empty()
    }
}

impl PermissionFamily {
    /// This family's row of the table.
    pub fn meaning(self) -> &'static FamilyMeaning {
        match self {
            Self::FsRead => &FamilyMeaning {
                interfaces: &[],
                wiring: Wiring::Wasi,
                record_placeholder: None,
                summary: "read files under a granted folder",
            },
            Self::FsWrite => &FamilyMeaning {
                interfaces: &[],
                wiring: Wiring::Wasi,
                record_placeholder: None,
                summary: "create, change and delete files under a granted folder",
            },
            // Raw sockets, and HTTP requests the host makes on the
            // plugin's behalf (`wasi:http/outgoing-handler`), each checked
            // against the same grants.
            Self::Net => &FamilyMeaning {
                interfaces: &["wasi:sockets/", "wasi:http/"],
                wiring: Wiring::Wasi,
                // Port 9 on the loopback (discard) is never a real target.
                record_placeholder: Some("net(127.0.0.1:9)"),
                summary: "open network connections and send HTTP requests to granted hosts",
            },
            Self::Env => &FamilyMeaning {
                interfaces: &[],
                wiring: Wiring::Wasi,
                record_placeholder: None,
                summary: "read granted environment variables",
            },
            Self::Tty => &FamilyMeaning {
                interfaces: &[],
                wiring: Wiring::Wasi,
                record_placeholder: None,
                summary: "read the terminal directly",
            },
            Self::Secret => &FamilyMeaning {
                interfaces: &["lord:plugin/secrets"],
                wiring: Wiring::Scope,
                record_placeholder: Some("secret(LORD_PDK_RECORD_NONE)"),
                summary: "read granted secrets from the user's secret store",
            },
            Self::StateShared => &FamilyMeaning {
                interfaces: &["lord:plugin/shared"],
                wiring: Wiring::Scope,
                record_placeholder: Some("state-shared(lord-pdk-record.none)"),
                summary: "read and write granted values shared between plugins",
            },
            Self::EventsPublish => &FamilyMeaning {
                interfaces: &["lord:plugin/events"],
                wiring: Wiring::Scope,
                record_placeholder: Some("events-publish(lord-pdk-record.none)"),
                summary: "publish events on granted topics",
            },
            // Subscribing needs no interface: the host calls the plugin's
            // `handle-event` export with what its patterns match.
            Self::EventsSubscribe => &FamilyMeaning {
                interfaces: &[],
                wiring: Wiring::Scope,
                record_placeholder: None,
                summary: "receive events matching granted patterns",
            },
            Self::Message => &FamilyMeaning {
                interfaces: &["lord:plugin/messaging"],
                wiring: Wiring::Scope,
                record_placeholder: Some("message(lord-pdk-record-none)"),
                summary: "send requests and messages to granted plugins",
            },
            Self::Exec => &FamilyMeaning {
                interfaces: &["lord:plugin/exec"],
                wiring: Wiring::Wasi,
                // No program is called this, so it resolves to nothing and
                // every program the plugin runs is refused and recorded.
                record_placeholder: Some("exec(lord-pdk-record-none)"),
                summary: "run a granted program on the host, with the user's own authority",
            },
            // The granted profile names travel in the sandbox's grants;
            // the connections (and the password) are the host's, from the
            // embedder's pools.
            Self::Db => &FamilyMeaning {
                interfaces: &["lord:plugin/sql", "lord:plugin/kv", "lord:plugin/document"],
                wiring: Wiring::Wasi,
                // No profile is called this, so every call the plugin makes
                // is refused and recorded with the profile it named.
                record_placeholder: Some("db(lord-pdk-record-none)"),
                summary: "query and change a granted database profile; the host holds its \
                          password and binds every parameter",
            },
            // The granted profile names travel in the sandbox's grants;
            // the provider behind them (and its key) is the host's.
            Self::Ai => &FamilyMeaning {
                interfaces: &["lord:plugin/ai"],
                wiring: Wiring::Wasi,
                // No profile is called this, so every request the plugin
                // makes is refused and recorded with the profile it named.
                record_placeholder: Some("ai(lord-pdk-record-none)"),
                summary: "send requests to a granted AI profile; the host holds its key",
            },
            // The grant decides, in the sandbox's grants, whether command
            // lines are read; the sampler is the `monitor` provider's.
            Self::SysMetrics => &FamilyMeaning {
                interfaces: &["lord:plugin/metrics"],
                wiring: Wiring::Wasi,
                record_placeholder: None,
                summary: "read this machine's CPU, memory, disk, network, process and container \
                          figures; command lines only with `sys-metrics(command-lines)`",
            },
        }
    }

    /// The family whose interfaces include `import` (a name without its
    /// `@version`), if any.
    pub fn unlocking(import: &str) -> Option<PermissionFamily> {
        Self::ALL.into_iter().find(|family| {
            family
                .meaning()
                .interfaces
                .iter()
                .any(|prefix| import.starts_with(prefix))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Permission;

    #[test]
    fn placeholders_are_permissions_of_their_own_family() {
        for family in PermissionFamily::ALL {
            if let Some(text) = family.meaning().record_placeholder {
                let permission: Permission = text.parse().expect(text);
                assert_eq!(permission.family(), family, "{text}");
            }
        }
    }

    #[test]
    fn a_recordable_family_shows_in_imports_and_an_unserved_one_unlocks_nothing() {
        for family in PermissionFamily::ALL {
            let meaning = family.meaning();
            if meaning.record_placeholder.is_some() {
                assert!(meaning.visible_in_imports(), "{family}");
            }
            if meaning.wiring == Wiring::Unserved {
                assert!(meaning.interfaces.is_empty(), "{family}");
            }
        }
    }

    #[test]
    fn each_interface_belongs_to_one_family() {
        assert_eq!(
            PermissionFamily::unlocking("lord:plugin/shared"),
            Some(PermissionFamily::StateShared)
        );
        assert_eq!(
            PermissionFamily::unlocking("wasi:sockets/tcp"),
            Some(PermissionFamily::Net)
        );
        assert_eq!(
            PermissionFamily::unlocking("wasi:http/outgoing-handler"),
            Some(PermissionFamily::Net)
        );
        assert_eq!(PermissionFamily::unlocking("lord:plugin/log"), None);
        let mut seen = Vec::new();
        for family in PermissionFamily::ALL {
            for interface in family.meaning().interfaces {
                assert!(!seen.contains(interface), "{interface} twice");
                seen.push(interface);
            }
        }
    }
}
