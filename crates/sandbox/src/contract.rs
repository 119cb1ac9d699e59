//! The contract check: before a component first runs, its imports must be
//! covered by the permissions its manifest requested, and its exports must
//! speak a host API version this host supports.

use std::fmt;
use std::str::FromStr;

use lord_manifest::{Permission, PermissionFamily, PluginId};

use crate::error::SandboxError;

/// What a component must export, by the world it was built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum World {
    /// A full plugin: exports `lord:plugin/guest`.
    Plugin,
    /// A micro-plugin: exports `lord:plugin/micro`.
    Micro,
}

impl World {
    pub(crate) fn export(self) -> &'static str {
        match self {
            World::Plugin => "lord:plugin/guest",
            World::Micro => "lord:plugin/micro",
        }
    }
}

/// WASI interfaces any plugin may import, from the permission table's
/// crate (`lord_manifest::WASI_BASELINE`), which `lord scan` reads too.
/// `lord:plugin` interfaces are judged by their modules
/// (`interfaces::ALL`) and the permission table.
const WASI_BASELINE: &[&str] = lord_manifest::WASI_BASELINE;

/// Host interfaces a sandbox leaves out of its linker (those a disabled
/// provider serves), each with the reason a refusal gives.
#[derive(Debug, Clone, Default)]
pub struct Withheld(Vec<(String, String)>);

impl Withheld {
    /// Leaves `interface` (`lord:plugin/secrets`) out, for `reason`.
    pub fn add(&mut self, interface: &str, reason: String) {
        self.0.push((interface.to_owned(), reason));
    }

    /// Why `interface` is left out, if it is.
    pub(crate) fn reason(&self, interface: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == interface)
            .map(|(_, reason)| reason.as_str())
    }
}

/// What importing one interface takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportUse {
    /// Nothing: it carries no authority by itself.
    Baseline,
    /// A permission of this family.
    Needs(PermissionFamily),
    /// Nothing can: this host offers no such interface to plugins.
    Unknown,
}

/// Classifies one import path (`lord:plugin/shared`, `wasi:io/poll`) the
/// way the contract check does, without deciding anything.
pub fn import_use(path: &str) -> ImportUse {
    if WASI_BASELINE.iter().any(|prefix| path.starts_with(prefix)) {
        return ImportUse::Baseline;
    }
    if let Some(interface) = crate::interfaces::find(path) {
        return interface
            .family
            .map_or(ImportUse::Baseline, ImportUse::Needs);
    }
    // Which family an interface needs is the permission table's to say.
    PermissionFamily::unlocking(path).map_or(ImportUse::Unknown, ImportUse::Needs)
}

/// A parsed component import or export name such as `wasi:io/poll@0.2.6`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportName {
    /// Everything before `@`, e.g. `wasi:io/poll`.
    pub path: String,
    pub version: Option<semver::Version>,
}

impl FromStr for ImportName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('@') {
            Some((path, version)) => Ok(Self {
                path: path.to_owned(),
                version: Some(
                    version
                        .parse()
                        .map_err(|e| format!("bad version in `{s}`: {e}"))?,
                ),
            }),
            None => Ok(Self {
                path: s.to_owned(),
                version: None,
            }),
        }
    }
}

impl fmt::Display for ImportName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{v}", self.path),
            None => f.write_str(&self.path),
        }
    }
}

/// What the check learned about a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractReport {
    /// Whether the component is a full plugin or a micro-plugin.
    pub micro: bool,
    /// The host API version the component was built against.
    pub guest_api: semver::Version,
    pub imports: Vec<ImportName>,
    /// Families whose interfaces the component imports: a requested family
    /// missing here is a permission the plugin never uses.
    pub families_used: Vec<PermissionFamily>,
}

pub(crate) fn check<'a>(
    world: World,
    plugin: &PluginId,
    imports: impl Iterator<Item = &'a str>,
    exports: impl Iterator<Item = &'a str>,
    requested: &[Permission],
    withheld: &Withheld,
) -> Result<ContractReport, SandboxError> {
    let refuse = |reason: String| SandboxError::Contract {
        plugin: plugin.clone(),
        reason,
    };
    let host = lord_manifest::host_api_version();

    let expected = world.export();
    let guest_api = exports
        .filter_map(|name| name.parse::<ImportName>().ok())
        .find(|name| name.path == expected)
        .ok_or_else(|| {
            refuse(format!(
                "the component does not export `{expected}`; build it against \
                 lord:plugin@{host} (for example with the lord-pdk crate)"
            ))
        })?
        .version
        .ok_or_else(|| refuse(format!("its `{expected}` export has no version")))?;
    check_api_version(&guest_api, &host).map_err(refuse)?;

    let mut parsed = Vec::new();
    let mut families_used = Vec::new();
    for raw in imports {
        let name: ImportName = raw.parse().map_err(refuse)?;
        if name.path.starts_with("lord:plugin/")
            && let Some(version) = &name.version
        {
            check_api_version(version, &host).map_err(refuse)?;
        }
        if let Some(reason) = withheld.reason(&name.path) {
            return Err(refuse(format!(
                "the component imports `{name}`, which this host does not offer now: {reason}"
            )));
        }
        match import_use(&name.path) {
            ImportUse::Baseline => {}
            ImportUse::Needs(family) if requested.iter().any(|p| p.family() == family) => {
                if !families_used.contains(&family) {
                    families_used.push(family);
                }
            }
            ImportUse::Needs(family) => {
                return Err(refuse(format!(
                    "the component imports `{name}`, which needs a `{}` permission that \
                     plugin.toml does not request; add it to [permissions] request or \
                     remove the import",
                    family.as_str()
                )));
            }
            ImportUse::Unknown => {
                return Err(refuse(format!(
                    "the component imports `{name}`, an interface this host does not \
                     provide to plugins"
                )));
            }
        }
        parsed.push(name);
    }
    Ok(ContractReport {
        micro: world == World::Micro,
        guest_api,
        imports: parsed,
        families_used,
    })
}

fn check_api_version(plugin: &semver::Version, host: &semver::Version) -> Result<(), String> {
    if lord_manifest::host_api_supports(plugin) {
        return Ok(());
    }
    let line = |v: &semver::Version| {
        if v.major == 0 {
            format!("0.{}", v.minor)
        } else {
            v.major.to_string()
        }
    };
    if line(plugin) == line(host) {
        // Same line, newer minor: it may call functions this lord lacks.
        Err(format!(
            "it was built for host API lord:plugin@{plugin}, newer than the \
             lord:plugin@{host} this lord provides; upgrade lord, or install a version of \
             the plugin built for {host} or earlier (`lord plugin install ID@RANGE`)"
        ))
    } else {
        Err(format!(
            "it was built for host API lord:plugin@{plugin} (the {} line), but this lord \
             runs plugins of the {} line (up to lord:plugin@{host}); install a version of \
             the plugin built for the {} line, or rebuild it against lord:plugin@{host}",
            line(plugin),
            line(host),
            line(host)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        imports: &[&str],
        exports: &[&str],
        requested: &[&str],
    ) -> Result<ContractReport, String> {
        let plugin: PluginId = "sample".parse().expect("valid id");
        let requested: Vec<Permission> = requested
            .iter()
            .map(|p| p.parse().expect("valid permission"))
            .collect();
        check(
            World::Plugin,
            &plugin,
            imports.iter().copied(),
            exports.iter().copied(),
            &requested,
            &Withheld::default(),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn baseline_imports_need_no_permission() {
        let report = run(
            &[
                "wasi:io/poll@0.2.6",
                "wasi:filesystem/preopens@0.2.6",
                "lord:plugin/log@0.2.0",
            ],
            &["lord:plugin/guest@0.2.0"],
            &[],
        )
        .expect("accepted");
        assert_eq!(report.guest_api, semver::Version::new(0, 2, 0));
        assert!(report.families_used.is_empty());
    }

    #[test]
    fn sockets_without_net_are_refused_naming_the_import() {
        let err = run(
            &["wasi:sockets/tcp@0.2.6"],
            &["lord:plugin/guest@0.2.0"],
            &[],
        )
        .expect_err("refused");
        assert!(err.contains("`wasi:sockets/tcp@0.2.6`"), "{err}");
        assert!(err.contains("`net` permission"), "{err}");
    }

    #[test]
    fn sockets_with_net_are_accepted_and_counted() {
        let report = run(
            &["wasi:sockets/tcp@0.2.6"],
            &["lord:plugin/guest@0.2.0"],
            &["net(127.0.0.1:80)"],
        )
        .expect("accepted");
        assert_eq!(report.families_used, vec![PermissionFamily::Net]);
    }

    /// A component that can ask a model must hold an `ai` grant to load,
    /// so its imports say so before it runs.
    #[test]
    fn the_ai_interface_needs_an_ai_grant() {
        let imports = ["lord:plugin/ai@0.2.1"];
        let exports = ["lord:plugin/guest@0.2.1"];
        let err = run(&imports, &exports, &[]).expect_err("refused");
        assert!(err.contains("`lord:plugin/ai@0.2.1`"), "{err}");
        assert!(err.contains("`ai` permission"), "{err}");
        let report = run(&imports, &exports, &["ai(local)"]).expect("accepted");
        assert_eq!(report.families_used, vec![PermissionFamily::Ai]);
    }

    #[test]
    fn unknown_interfaces_are_refused() {
        let err = run(
            &["evil:backdoor/shell@1.0.0"],
            &["lord:plugin/guest@0.2.0"],
            &[],
        )
        .expect_err("refused");
        assert!(err.contains("does not provide"), "{err}");
    }

    #[test]
    fn newer_api_is_refused_naming_both_versions() {
        let err = run(&[], &["lord:plugin/guest@0.3.0"], &[]).expect_err("refused");
        assert!(err.contains("lord:plugin@0.3.0"), "{err}");
        assert!(err.contains("lord:plugin@0.2.1"), "{err}");
        assert!(err.contains("built for the 0.2 line"), "{err}");
        let host = lord_manifest::host_api_version();
        let newer = format!("lord:plugin/guest@0.2.{}", host.patch + 1);
        let err = run(&[], &[&newer], &[]).expect_err("refused");
        assert!(err.contains("upgrade lord"), "{err}");
        assert!(
            err.contains(&format!("built for {host} or earlier")),
            "{err}"
        );
    }

    /// 0.2.1 only added an interface: a component built against 0.2.0
    /// (its imports and its export) is accepted.
    #[test]
    fn an_older_minor_of_the_same_line_is_accepted() {
        run(
            &["lord:plugin/log@0.2.0", "lord:plugin/delivery@0.2.1"],
            &["lord:plugin/guest@0.2.0"],
            &[],
        )
        .expect("accepted");
    }

    #[test]
    fn missing_guest_export_is_refused() {
        let err = run(&[], &["wasi:cli/run@0.2.0"], &[]).expect_err("refused");
        assert!(err.contains("does not export"), "{err}");
    }
}
