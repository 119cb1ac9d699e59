//! Turns recorded permissions into the sandbox's concrete grants: real
//! folders for `$PROJECT`, `$PLUGIN_DATA` and `$TMP`, the values of granted
//! environment variables, network targets, the terminal, each granted
//! program as the one file recorded when it was granted, and what the
//! machine's figures may show.

use std::path::{Path, PathBuf};

use lord_manifest::{FsPath, FsRoot, Permission};
use lord_sandbox::{Grants, MetricsAccess, Preopen, Program};
use lord_store::GrantedProgram;

/// The real folders behind the three filesystem roots for one load.
pub(crate) struct Roots<'a> {
    pub(crate) project: &'a Path,
    pub(crate) plugin_data: &'a Path,
    pub(crate) tmp: &'a Path,
}

/// Which per-plugin folders a set of grants refers to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RootsNeeded {
    pub(crate) plugin_data: bool,
    pub(crate) tmp: bool,
}

pub(crate) fn roots_needed(granted: &[Permission]) -> RootsNeeded {
    let mut needs = RootsNeeded::default();
    for permission in granted {
        if let Permission::FsRead(path) | Permission::FsWrite(path) = permission {
            match path.root {
                FsRoot::PluginData => needs.plugin_data = true,
                FsRoot::Tmp => needs.tmp = true,
                FsRoot::Project => {}
            }
        }
    }
    needs
}

/// The first grant of a folder under `$PROJECT`, if any.
pub(crate) fn names_project(granted: &[Permission]) -> Option<&Permission> {
    granted
        .iter()
        .find(|p| p.folder().is_some_and(|path| path.root == FsRoot::Project))
}

/// The programs a build replacing `old` runs: for each `exec(NAME)` `old`
/// was granted, the file recorded when the user granted it, or none if
/// none was recorded (not found then, or granted before lord recorded
/// programs), never whatever `PATH` finds now: a program moved, shadowed
/// or planted since is what `lord plugin regrant` is for, with a prompt.
/// The others as `resolved` now, to be shown with the new permissions
/// they come with.
pub(crate) fn keep_granted_programs(
    requested: &[Permission],
    resolved: Vec<GrantedProgram>,
    old: &lord_store::InstalledPlugin,
) -> Vec<GrantedProgram> {
    let granted_before = |name: &str| {
        old.granted
            .iter()
            .any(|p| matches!(p, Permission::Exec(n) if n == name))
    };
    let recorded = |name: &str| old.programs.iter().find(|p| p.name == name);
    let mut programs: Vec<GrantedProgram> = resolved
        .into_iter()
        .filter(|now| !granted_before(&now.name))
        .collect();
    for name in requested.iter().filter_map(|p| {
        if let Permission::Exec(name) = p {
            Some(name.as_str())
        } else {
            None
        }
    }) {
        if granted_before(name)
            && let Some(kept) = recorded(name)
        {
            programs.push(kept.clone());
        }
    }
    programs
}

/// What `granted` resolves to in this process beyond the permissions'
/// own text: the project folder when a grant names `$PROJECT`, and the
/// value of each variable an `env(NAME)` grant reads, and the file each
/// granted `exec(NAME)` runs. A
/// `pure` answer may depend on either, so both are part of its
/// result-cache key: the same command in another project, or with
/// another value of a granted variable, must not be answered from the
/// first one's entry.
pub(crate) fn resolved_context(
    granted: &[Permission],
    programs: &[GrantedProgram],
    project: Option<&Path>,
    host_env: &[(String, String)],
) -> Vec<u8> {
    let mut context = Vec::new();
    if names_project(granted).is_some() {
        context.extend_from_slice(b"project=");
        match project {
            // The path as the system holds it: two folders whose names
            // differ only in bytes that are not UTF-8 are two projects.
            Some(project) => context.extend_from_slice(project.as_os_str().as_encoded_bytes()),
            None => context.push(b'-'),
        }
        context.push(0);
    }
    // The file each `exec` runs: `lord plugin regrant` may change it.
    for program in programs {
        context.extend_from_slice(b"exec ");
        context.extend_from_slice(program.name.as_bytes());
        context.push(b'=');
        context.extend_from_slice(program.path.as_os_str().as_encoded_bytes());
        context.push(0);
    }
    let mut names: Vec<&str> = granted
        .iter()
        .filter_map(|p| {
            if let Permission::Env(name) = p {
                Some(name.as_str())
            } else {
                None
            }
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        context.extend_from_slice(b"env ");
        context.extend_from_slice(name.as_bytes());
        match host_env.iter().find(|(k, _)| k == name) {
            Some((_, value)) => {
                context.push(b'=');
                context.extend_from_slice(value.as_bytes());
            }
            None => context.extend_from_slice(b" unset"),
        }
        context.push(0);
    }
    context
}

/// The grant(s) behind the folder a guest sees at `guest`, in manifest
/// syntax, for a refusal that names them.
pub(crate) fn naming(granted: &[Permission], guest: &str) -> String {
    let names: Vec<String> = granted
        .iter()
        .filter(|p| p.folder().is_some_and(|path| path.guest_path() == guest))
        .map(ToString::to_string)
        .collect();
    names.join(" and ")
}

/// Builds grants from the permissions recorded for a plugin. The match is
/// exhaustive: a new permission does not compile until it is decided here.
/// A sub-folder grant that leads out of its root through a link is an
/// error, not a folder.
pub(crate) fn to_grants(
    granted: &[Permission],
    programs: &[GrantedProgram],
    roots: &Roots<'_>,
    host_env: &[(String, String)],
) -> Result<Grants, LeadsOut> {
    let mut grants = Grants::default();
    for permission in granted {
        match permission {
            Permission::FsRead(path) => add_preopen(&mut grants, roots, permission, path, false)?,
            Permission::FsWrite(path) => add_preopen(&mut grants, roots, permission, path, true)?,
            Permission::Env(name) => {
                if let Some((k, v)) = host_env.iter().find(|(k, _)| k == name.as_str()) {
                    grants.env.push((k.clone(), v.clone()));
                }
            }
            Permission::Net(target) => grants.net.push(target.clone()),
            Permission::Tty => grants.tty = true,
            // The file recorded when the program was granted; a run
            // names the program and gets exactly this file, with no
            // search now or at run time. With none recorded the path is
            // empty, and the sandbox refuses every run, saying to grant
            // the program again.
            Permission::Exec(name) => grants.programs.push(Program {
                name: name.clone(),
                path: programs
                    .iter()
                    .find(|p| &p.name == name)
                    .map(|p| p.path.clone())
                    .unwrap_or_default(),
            }),
            // Wiring::Scope in the permission table: these reach the
            // plugin through its channel scope (`lord_state::ScopeGrants`),
            // checked at each host call, not through WASI.
            Permission::Secret(_)
            | Permission::StateShared(_)
            | Permission::EventsPublish(_)
            | Permission::EventsSubscribe(_)
            | Permission::Message(_) => {}
            // The stronger grant wins: command lines include the figures.
            Permission::SysMetrics => {
                grants.metrics = grants.metrics.max(MetricsAccess::Figures);
            }
            Permission::SysMetricsCommandLines => grants.metrics = MetricsAccess::CommandLines,
            // The profile by name; the host's AI provider, linked as the
            // sandbox's `AiService`, resolves it and holds its key.
            Permission::Ai(profile) => grants.ai.push(profile.clone()),
            // The profile by name; the host's database link, linked as
            // the sandbox's `DbService`, resolves it, holds its password
            // and takes sessions from the embedder's pools.
            Permission::Db(profile) => grants.db.push(profile.clone()),
        }
    }
    if grants
        .preopens
        .iter()
        .any(|p| p.guest == FsRoot::Project.guest_dir())
    {
        grants.cwd = Some(FsRoot::Project.guest_dir().to_owned());
    }
    Ok(grants)
}

/// The file `exec(NAME)` runs: the first executable `NAME` in the
/// absolute folders of `PATH` in `env`, with every link resolved, so what
/// runs is one fixed file whatever `PATH` later says. Relative `PATH`
/// entries (`.`, empty) are skipped: they would make the working folder,
/// which a plugin may write, choose the program.
pub fn resolve_program(name: &str, env: &[(String, String)]) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v)?;
    path.split(':')
        .filter(|dir| dir.starts_with('/'))
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .and_then(|found| found.canonicalize().ok())
}

/// The file each `exec(NAME)` among `permissions` resolves to now, for
/// recording with the grant; a program not found is left out.
pub(crate) fn resolve_programs(
    permissions: &[Permission],
    env: &[(String, String)],
) -> Vec<GrantedProgram> {
    permissions
        .iter()
        .filter_map(|p| match p {
            Permission::Exec(name) => resolve_program(name, env).map(|path| GrantedProgram {
                name: name.clone(),
                path,
            }),
            Permission::FsRead(_)
            | Permission::FsWrite(_)
            | Permission::Net(_)
            | Permission::Env(_)
            | Permission::Secret(_)
            | Permission::StateShared(_)
            | Permission::EventsPublish(_)
            | Permission::EventsSubscribe(_)
            | Permission::Message(_)
            | Permission::Db(_)
            | Permission::Ai(_)
            | Permission::SysMetrics
            | Permission::SysMetricsCommandLines
            | Permission::Tty => None,
        })
        .collect()
}

/// A grant of a sub-folder whose path goes through a link that leads
/// outside the root it is named under (`$PROJECT/docs`, with `docs` a
/// link to `~/.aws`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeadsOut {
    /// The grant, in manifest syntax.
    pub(crate) grant: String,
    /// The first link on the way, or the sub-folder itself when no single
    /// link is to blame (one moved since it was resolved).
    pub(crate) link: PathBuf,
    /// Where the sub-folder really is.
    pub(crate) leads_to: PathBuf,
}

/// Adds the folder `path` names, as the real folder it is: a sub-folder is
/// resolved through every link in it and must still be inside its root,
/// or the grant is refused. Without that, whoever can write the project
/// (the plugin itself, with `fs-write($PROJECT)`) could make `docs` a
/// link to any folder of the user's, and `fs-read($PROJECT/docs)` would
/// hand it over. The resolved path is what is opened, so the check and the
/// folder the plugin gets are the same.
fn add_preopen(
    grants: &mut Grants,
    roots: &Roots<'_>,
    permission: &Permission,
    path: &FsPath,
    writable: bool,
) -> Result<(), LeadsOut> {
    let base = match path.root {
        FsRoot::Project => roots.project,
        FsRoot::PluginData => roots.plugin_data,
        FsRoot::Tmp => roots.tmp,
    };
    let joined: PathBuf = path.sub.iter().fold(base.to_path_buf(), |p, s| p.join(s));
    // A granted sub-folder that does not exist gives nothing to read; it is
    // skipped rather than failing the plugin's start.
    let Ok(real) = joined.canonicalize() else {
        return Ok(());
    };
    if !real.is_dir() {
        return Ok(());
    }
    // The root itself may be a link (a project kept on another disk);
    // only what lies below it is held to it.
    let inside = base.canonicalize().is_ok_and(|root| real.starts_with(root));
    if !inside {
        return Err(LeadsOut {
            grant: permission.to_string(),
            link: first_link(base, &path.sub).unwrap_or(joined),
            leads_to: real,
        });
    }
    let host = if path.sub.is_empty() { joined } else { real };
    let guest = path.guest_path();
    match grants.preopens.iter_mut().find(|p| p.guest == guest) {
        Some(existing) => existing.writable |= writable,
        None => grants.preopens.push(Preopen {
            host,
            guest,
            writable,
            resolved: !path.sub.is_empty(),
        }),
    }
    Ok(())
}

/// The first link on the way from `base` down through `sub`.
fn first_link(base: &Path, sub: &[String]) -> Option<PathBuf> {
    let mut path = base.to_path_buf();
    for part in sub {
        path.push(part);
        if path
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            return Some(path);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_follow_permissions_and_nothing_else() {
        let project = tempfile::tempdir().expect("tempdir");
        let data = tempfile::tempdir().expect("tempdir");
        let tmp = tempfile::tempdir().expect("tempdir");
        let roots = Roots {
            project: project.path(),
            plugin_data: data.path(),
            tmp: tmp.path(),
        };
        let granted: Vec<Permission> = [
            "fs-read($PROJECT)",
            "fs-write($PLUGIN_DATA)",
            "env(HOME)",
            "tty",
        ]
        .iter()
        .map(|p| p.parse().expect("permission"))
        .collect();
        let env = vec![
            ("HOME".to_owned(), "/home/ada".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "hunter2".to_owned()),
        ];
        let grants = to_grants(&granted, &[], &roots, &env).expect("grants");
        assert_eq!(
            grants.env,
            vec![("HOME".to_owned(), "/home/ada".to_owned())]
        );
        assert!(grants.tty);
        assert!(grants.net.is_empty());
        assert_eq!(grants.preopens.len(), 2);
        assert!(
            grants
                .preopens
                .iter()
                .any(|p| p.guest == "/project" && !p.writable)
        );
        assert!(
            grants
                .preopens
                .iter()
                .any(|p| p.guest == "/data" && p.writable)
        );
        assert_eq!(grants.cwd.as_deref(), Some("/project"));
    }

    #[test]
    fn a_sub_folder_that_is_a_link_out_of_its_root_is_refused() {
        let home = tempfile::tempdir().expect("tempdir");
        let secrets = home.path().join(".aws");
        std::fs::create_dir(&secrets).expect("mkdir");
        let project = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(project.path().join("src")).expect("mkdir");
        std::os::unix::fs::symlink(&secrets, project.path().join("docs")).expect("symlink");
        // A relative link, as a plugin that may write the project makes it.
        std::os::unix::fs::symlink("../../../../../../../..", project.path().join("src/up"))
            .expect("symlink");
        let roots = Roots {
            project: project.path(),
            plugin_data: project.path(),
            tmp: project.path(),
        };
        let real_secrets = secrets.canonicalize().expect("real");
        for (grant, link, leads_to) in [
            (
                "fs-read($PROJECT/docs)",
                project.path().join("docs"),
                real_secrets.clone(),
            ),
            (
                "fs-write($PROJECT/docs)",
                project.path().join("docs"),
                real_secrets,
            ),
            (
                "fs-read($PROJECT/src/up)",
                project.path().join("src/up"),
                "/".into(),
            ),
        ] {
            let granted: Vec<Permission> = vec![grant.parse().expect("permission")];
            let out = to_grants(&granted, &[], &roots, &[]).expect_err(grant);
            assert_eq!(
                out,
                LeadsOut {
                    grant: grant.to_owned(),
                    link,
                    leads_to,
                }
            );
        }
    }

    #[test]
    fn a_link_that_stays_inside_and_a_root_that_is_a_link_are_granted() {
        let real = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(real.path().join("project/docs/v1")).expect("mkdir");
        std::os::unix::fs::symlink("docs/v1", real.path().join("project/current"))
            .expect("symlink");
        std::os::unix::fs::symlink(real.path().join("project"), real.path().join("alias"))
            .expect("symlink");
        let project = real.path().join("alias");
        let roots = Roots {
            project: &project,
            plugin_data: &project,
            tmp: &project,
        };
        let granted: Vec<Permission> = ["fs-read($PROJECT)", "fs-write($PROJECT/current)"]
            .iter()
            .map(|p| p.parse().expect("permission"))
            .collect();
        let grants = to_grants(&granted, &[], &roots, &[]).expect("inside");
        let hosts: Vec<_> = grants.preopens.iter().map(|p| p.host.clone()).collect();
        let inside = real
            .path()
            .canonicalize()
            .expect("real")
            .join("project/docs/v1");
        assert_eq!(hosts, vec![project.clone(), inside]);
        // The sub-folder is checked again by each instance; the root, a
        // link itself, is opened as given.
        let resolved: Vec<bool> = grants.preopens.iter().map(|p| p.resolved).collect();
        assert_eq!(resolved, [false, true]);
    }

    #[test]
    fn nothing_granted_means_nothing_wired() {
        let dir = tempfile::tempdir().expect("tempdir");
        let roots = Roots {
            project: dir.path(),
            plugin_data: dir.path(),
            tmp: dir.path(),
        };
        let env = vec![("HOME".to_owned(), "/home/ada".to_owned())];
        let grants = to_grants(&[], &[], &roots, &env).expect("grants");
        assert!(grants.preopens.is_empty());
        assert!(grants.env.is_empty());
        assert!(grants.net.is_empty());
        assert!(!grants.tty);
        assert_eq!(grants.cwd, None);
    }

    #[test]
    fn the_resolved_context_holds_the_project_and_granted_variables_only() {
        let parse = |list: &[&str]| -> Vec<Permission> {
            list.iter()
                .map(|p| p.parse().expect("permission"))
                .collect()
        };
        let env = vec![
            ("HOME".to_owned(), "/home/ada".to_owned()),
            ("REGION".to_owned(), "eu".to_owned()),
        ];
        let a = Path::new("/work/a");
        let b = Path::new("/work/b");
        // Nothing resolved: the same key in every project and environment.
        let plain = parse(&["net(example.com)"]);
        assert_eq!(resolved_context(&plain, &[], Some(a), &env), b"");
        assert_eq!(
            resolved_context(&plain, &[], Some(a), &env),
            resolved_context(&plain, &[], Some(b), &[])
        );
        // A project grant: the project is part of it.
        let reads = parse(&["fs-read($PROJECT/docs)"]);
        assert_ne!(
            resolved_context(&reads, &[], Some(a), &env),
            resolved_context(&reads, &[], Some(b), &env)
        );
        // A granted variable: its value, set or not; other variables never.
        let region = parse(&["env(REGION)"]);
        let eu = resolved_context(&region, &[], None, &env);
        assert_eq!(eu, b"env REGION=eu\0");
        let other = vec![("REGION".to_owned(), "us".to_owned())];
        assert_ne!(eu, resolved_context(&region, &[], None, &other));
        assert_eq!(
            resolved_context(&region, &[], None, &[]),
            b"env REGION unset\0"
        );
        assert!(
            !eu.windows(3).any(|w| w == b"ada"),
            "an ungranted variable is in {eu:?}"
        );
        // A regranted program is another key.
        let git = |path: &str| GrantedProgram {
            name: "git".to_owned(),
            path: PathBuf::from(path),
        };
        let exec = parse(&["exec(git)"]);
        assert_ne!(
            resolved_context(&exec, &[git("/usr/bin/git")], None, &[]),
            resolved_context(&exec, &[git("/opt/git/bin/git")], None, &[])
        );
    }
}
