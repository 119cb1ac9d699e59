//! The git argument checks, case by case: what `prepare` refuses, what
//! it lets through, and the address pins for the URLs it checked.

use super::*;
use crate::capability::Preopen;

/// `dir` granted writable as `/project`.
fn writable_project(dir: &Path) -> Folders {
    Folders::new(&[Preopen {
        host: dir.to_path_buf(),
        guest: "/project".to_owned(),
        writable: true,
        resolved: false,
    }])
}

/// A resolver for tests that name no host.
fn no_lookup(host: &str, _: u16) -> std::io::Result<Vec<std::net::IpAddr>> {
    Err(std::io::Error::other(format!("{host} looked up")))
}

/// The tests' DNS: `granted.example` is a public address,
/// `rebound.example` answers this machine's.
fn table(host: &str, _: u16) -> std::io::Result<Vec<std::net::IpAddr>> {
    match host.to_ascii_lowercase().as_str() {
        "granted.example" => Ok(vec![
            std::net::IpAddr::from([93, 184, 216, 34]),
            std::net::IpAddr::from(std::net::Ipv6Addr::new(
                0x2606, 0x2800, 0x220, 1, 0, 0, 0, 0x1946,
            )),
        ]),
        "rebound.example" => Ok(vec![std::net::IpAddr::from([127, 0, 0, 1])]),
        other => Err(std::io::Error::other(format!("no such name {other}"))),
    }
}

/// Prepares `git ARGS` in `/project`, a folder `dir` granted as
/// `writable`.
fn prepare_in(dir: &Path, writable: bool, args: &[&str]) -> Result<Prepared, String> {
    let folders = Folders::new(&[Preopen {
        host: dir.to_path_buf(),
        guest: "/project".to_owned(),
        writable,
        resolved: false,
    }]);
    let where_ = Where {
        folders: &folders,
        cwd_guest: "/project",
        writable,
        net: &[],
        resolve: Some(&no_lookup),
        names: Default::default(),
    };
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    prepare(&args, &where_)
}

/// Asserts each run is refused with a message that holds `expect`.
fn refused(dir: &Path, writable: bool, runs: &[(&[&str], &str)]) {
    for (args, expect) in runs {
        let err = prepare_in(dir, writable, args).expect_err(&format!("{args:?} was run"));
        assert!(err.contains(expect), "{args:?}: {err}");
    }
}

/// A value-taking option given its value separately does not shift
/// which argument is the repository: an ssh remote after it is still
/// refused, and the options that name a repository apart are refused.
#[test]
fn a_separate_option_value_does_not_hide_the_repository() {
    let dir = tempfile::tempdir().expect("tempdir");
    refused(
        dir.path(),
        true,
        &[
            (&["clone", "--depth", "1", "evil:x", "d"], "ssh"),
            (&["clone", "--filter", "blob:none", "evil:x", "d"], "ssh"),
            (&["fetch", "--depth", "1", "evil:x", "main"], "ssh"),
            (&["fetch", "-j", "4", "evil:x"], "ssh"),
            (&["pull", "--shallow-since", "2020-01-01", "evil:x"], "ssh"),
            (&["push", "--repo", "evil:x"], "`--repo`"),
            (&["push", "--repo=evil:x"], "`--repo`"),
            (
                &["clone", "--bundle-uri", "https://evil/b", ".", "d"],
                "`--bundle-uri`",
            ),
        ],
    );
    prepare_in(dir.path(), true, &["clone", "--depth", "1", ".", "d"])
        .expect("a shallow clone of the project");
}

/// `clone` and `init` write where they are told: into a folder the
/// plugin may write, not one granted read-only beside a writable one.
#[test]
fn a_clone_or_init_into_a_read_only_folder_is_refused() {
    let project = tempfile::tempdir().expect("project");
    let docs = tempfile::tempdir().expect("docs");
    let folders = Folders::new(&[
        Preopen {
            host: project.path().to_path_buf(),
            guest: "/project".to_owned(),
            writable: true,
            resolved: false,
        },
        Preopen {
            host: docs.path().to_path_buf(),
            guest: "/docs".to_owned(),
            writable: false,
            resolved: false,
        },
    ]);
    let where_ = Where {
        folders: &folders,
        cwd_guest: "/project",
        writable: true,
        net: &[],
        resolve: Some(&no_lookup),
        names: Default::default(),
    };
    let run = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        prepare(&args, &where_)
    };
    for args in [
        &["clone", ".", "/docs/x"][..],
        &["clone", "-q", ".", "/docs/x"],
        &["init", "/docs/x"],
        // An option taking a value lord does not know of, or an
        // abbreviation of one it does, shifts which argument git reads
        // as the new folder: every argument that may be it is checked.
        &["init", "--initial", "main", "/docs/x"],
        &["init", "--object-format", "sha256", "/docs/x"],
        &["clone", "--bran", "main", ".", "/docs/x"],
        &["clone", "--ref-format", "files", ".", "/docs/x"],
    ] {
        let err = run(args).expect_err(&format!("{args:?} was run"));
        assert!(
            err.contains("which the plugin may only read"),
            "{args:?}: {err}"
        );
    }
    // Reading from the read-only folder, writing in the project: fine.
    run(&["clone", "/docs", "copy"]).expect("clone from a read-only folder");
    run(&["init", "fresh"]).expect("init in the project");
}

/// A push to a local repository runs git's receiving half there,
/// hooks and all: refused wherever git would find one. A remote's name
/// and refspecs are no repository.
#[test]
fn a_push_to_a_local_repository_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".git")).expect("git dir");
    std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/main\n").expect("head");
    std::fs::create_dir_all(dir.path().join("tgt")).expect("bare");
    std::fs::write(dir.path().join("tgt/HEAD"), "ref: refs/heads/main\n").expect("head");
    std::fs::create_dir_all(dir.path().join("other.git")).expect("bare");
    std::fs::write(dir.path().join("other.git/HEAD"), "ref: refs/heads/x\n").expect("head");
    refused(
        dir.path(),
        true,
        &[
            (
                &["push", "tgt", "HEAD:refs/heads/x"],
                "local repository `tgt`",
            ),
            (&["push", ".", "HEAD:refs/heads/x"], "local repository `.`"),
            (&["push", "/project/tgt", "main"], "local repository"),
            (&["push", "other", "main"], "local repository `other`"),
            (
                &["push", "-q", "file:///project/tgt", "main"],
                "local repository",
            ),
        ],
    );
    let run = prepare_in(dir.path(), true, &["push", "origin", "HEAD:refs/heads/x"])
        .expect("a push to a remote by name");
    assert_eq!(run.push, Some(Some("origin".to_owned())));
    let fetched = prepare_in(dir.path(), true, &["fetch", "tgt", "main"]).expect("fetch");
    assert_eq!(
        fetched.others,
        [dir.path().join("tgt")],
        "a repository fetched from is checked"
    );
}

/// A URL is checked as a browser reads it and reached as curl reads
/// it; where the two could differ on the host, it is refused.
#[test]
fn a_url_whose_host_could_be_read_two_ways_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folders = writable_project(dir.path());
    let net = [NetTarget {
        host: lord_manifest::NetHost::Name("granted.example".to_owned()),
        port: None,
    }];
    let where_ = Where {
        folders: &folders,
        cwd_guest: "/project",
        writable: true,
        net: &net,
        resolve: Some(&table),
        names: Default::default(),
    };
    let run = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        prepare(&args, &where_)
    };
    for url in [
        "https://granted.example\\@127.0.0.1:6379/x",
        "https://granted.example\\.evil.test/x",
        "https://a@b@granted.example/x",
        "https://gr%61nted.example/x",
        "https://granted.example\t/x",
        "https://GRANTED.example:443@127.0.0.1/x",
    ] {
        let err = run(&["ls-remote", url]).expect_err(url);
        assert!(
            err.contains("could read its host differently") || err.contains("net("),
            "{url}: {err}"
        );
    }
    // A refusal shows no credentials the URL carried.
    for url in [
        "https://x-access-token:s3cr3t@granted.example\\@127.0.0.1/x",
        "https://u:s3cr3t@granted.example\t/x",
        "https://u:s3cr3t@[bad/x",
    ] {
        let err = run(&["ls-remote", url]).expect_err(url);
        assert!(!err.contains("s3cr3t"), "{url}: {err}");
    }
    for url in [
        "https://granted.example/org/repo.git",
        "https://x-access-token:t0k3n@granted.example/org/repo.git",
        "https://Granted.Example:443/repo",
    ] {
        if let Err(e) = run(&["ls-remote", url]) {
            panic!("{url} was refused: {e}");
        }
    }
    // git is told the addresses the check let through, and looks the
    // name up no more: one lookup per name, however often it came.
    let pinned = block_on(pin_args(&where_)).expect("pinned");
    assert_eq!(
        pinned,
        [
            "-c",
            "http.curloptResolve=granted.example:443:93.184.216.34,[2606:2800:220:1::1946]"
        ]
    );
    assert!(
        block_on(pin_args(&where_)).expect("none").is_empty(),
        "taken once"
    );
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

fn net_grants(permissions: &[&str]) -> Vec<NetTarget> {
    permissions
        .iter()
        .map(|p| match p.parse::<lord_manifest::Permission>() {
            Ok(lord_manifest::Permission::Net(target)) => target,
            other => panic!("{p}: {other:?}"),
        })
        .collect()
}

/// A granted name whose answer is this machine (DNS rebinding, or a
/// name its author points at 127.0.0.1) is refused, and a name that
/// cannot be looked up is too: git would look it up again.
#[test]
fn a_granted_name_answering_this_machine_is_not_reached_by_git() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folders = writable_project(dir.path());
    let net = net_grants(&["net(rebound.example)", "net(missing.example)"]);
    let where_ = Where {
        folders: &folders,
        cwd_guest: "/project",
        writable: true,
        net: &net,
        resolve: Some(&table),
        names: Default::default(),
    };
    for (url, expect) in [
        ("https://rebound.example/x", "127.0.0.1"),
        ("https://missing.example/x", "could not be looked up"),
    ] {
        let args = vec!["ls-remote".to_owned(), url.to_owned()];
        prepare(&args, &where_).expect("the URL itself is granted");
        let err = block_on(pin_args(&where_)).expect_err(url);
        assert!(err.contains(expect), "{url}: {err}");
    }
    // git's own protocol looks a name up itself, past any list lord
    // could hand it: a name is refused there, granted or not, and an
    // address is not.
    let args = vec!["ls-remote".to_owned(), "git://rebound.example/x".to_owned()];
    let err = prepare(&args, &where_).expect_err("a git:// name");
    assert!(err.contains("looks the host name up itself"), "{err}");
    let by_address = net_grants(&["net(192.0.2.7:9418)"]);
    let where_ = Where {
        net: &by_address,
        ..where_
    };
    let args = vec!["ls-remote".to_owned(), "git://192.0.2.7/x".to_owned()];
    prepare(&args, &where_).expect("a git:// address is granted");
    assert!(
        block_on(pin_args(&where_))
            .expect("nothing to look up")
            .is_empty()
    );
    // A trailing dot, which curl versions read differently, is refused.
    let args = vec![
        "ls-remote".to_owned(),
        "https://rebound.example./x".to_owned(),
    ];
    let err = prepare(&args, &where_).expect_err("a trailing dot");
    assert!(err.contains("ends with a dot"), "{err}");
}

/// An argument that looks like an option is a path when git reads it
/// as the value of an option before it: one leaving the grants is
/// refused, and after `--` every argument is a path.
#[test]
fn an_option_that_git_could_read_as_a_path_stays_inside_the_grants() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("outside");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("--k")).expect("link");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("-k")).expect("link");
    // `-m/../x/secret`: tidied, `x/secret` in the project; followed as
    // git follows it, `-m` first, it is the outside folder's.
    let deeper = outside.path().join("inner");
    std::fs::create_dir_all(deeper.join("x")).expect("dir");
    std::fs::write(deeper.join("x/secret"), "key").expect("secret");
    std::os::unix::fs::symlink(deeper.join("x"), dir.path().join("-m")).expect("link");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("--")).expect("link");
    refused(
        dir.path(),
        true,
        &[
            (
                &["commit", "-F", "--x/../../../../etc/passwd"],
                "no git option holds a `/`",
            ),
            (&["commit", "-F", "--k/id_rsa"], "no git option holds a `/`"),
            (&["blame", "--contents", "--k", "--", "f"], "read as a path"),
            (&["commit", "-F", "-k"], "read as a path"),
            (&["commit", "-F", "-m/../x/secret"], "through a link"),
            (&["commit", "-F", "--"], "read as a path"),
            (&["add", "--", "--k/x"], "outside"),
            (&["add", "--help"], "`git help`"),
            (&["add", "--he"], "`git help`"),
        ],
    );
}

/// What lord takes for an option's value, or for an argument past
/// `--`, git may still read as an option: the refusals hold for it.
#[test]
fn an_option_behind_a_value_or_a_separator_is_still_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    refused(
        dir.path(),
        true,
        &[
            (
                &[
                    "clone",
                    "--server-option",
                    "--",
                    "--upload-pack=touch x",
                    "file:///project/src",
                    "d",
                ],
                "`--upload-pack`",
            ),
            (
                &[
                    "clone",
                    "--jobs",
                    "--",
                    "-utouch x",
                    "file:///project/src",
                    "d",
                ],
                "`-u`",
            ),
            (
                &["stash", "show", "-m", "--output=/project/x"],
                "`--output`",
            ),
        ],
    );
}

#[test]
fn abbreviated_long_options_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    refused(
        dir.path(),
        true,
        &[
            (
                &["ls-remote", "--upload-pa=touch X;", "."],
                "`--upload-pack`",
            ),
            (&["fetch", "--upload", "touch X;", "."], "`--upload-pack`"),
            (&["ls-remote", "--u=touch X;", "."], "`--upload-pack`"),
            (&["push", "--receive=touch X;", "."], "`--receive-pack`"),
            (&["ls-remote", "--ex=touch X;", "."], "`--exec`"),
            (&["clone", "--conf", "core.x=y", ".", "d"], "`--config`"),
            (&["init", "--templ=/etc"], "`--template`"),
            (&["init", "--sep=/tmp/x"], "`--separate-git-dir`"),
            (&["clone", "--refer", "/x", ".", "d"], "`--reference`"),
            (&["diff", "--no-ind", "a", "b"], "`--no-index`"),
            (&["diff", "--ext-d"], "`--ext-diff`"),
            (&["diff", "--outp=x"], "`--output`"),
            (&["fetch", "--recurse"], "`--recurse-submodules`"),
            (&["commit", "--gpg", "-m", "x"], "`--gpg-sign`"),
            (&["tag", "--si", "v1"], "`--sign`"),
            (&["tag", "--local=key", "v1"], "`--local-user`"),
            // The exact names still say just what they are.
            (
                &["fetch", "--upload-pack=x", "."],
                "git's option `--upload-pack` (it",
            ),
        ],
    );
}

#[test]
fn short_options_clustered_or_with_attached_values_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    refused(
        dir.path(),
        true,
        &[
            (&["clone", "-utouch X;", "file:///project/r", "d"], "`-u`"),
            (&["clone", "-qu", "touch X;", ".", "d"], "`-u`"),
            (&["clone", "-cfilter.x.smudge=touch X", ".", "d"], "`-c`"),
            (&["clone", "-qccore.fsmonitor=x", ".", "d"], "`-c`"),
            (&["commit", "-aS", "-m", "x"], "`-S`"),
            (&["commit", "-Skey", "-m", "x"], "`-S`"),
            (&["pull", "-S"], "`-S`"),
            (&["merge", "-qS", "main"], "`-S`"),
            (&["tag", "-as", "v1"], "`-s`"),
            (&["tag", "-ukey", "v1"], "`-u`"),
            // A value attached to a short option may be a path.
            (
                &["commit", "-F/home/u/.ssh/id_rsa"],
                "`-F/home/u/.ssh/id_rsa`",
            ),
            (
                &["commit", "-aF/etc/passwd"],
                "pass the value as the next argument",
            ),
            (
                &["ls-files", "-X../../etc/x"],
                "pass the value as the next argument",
            ),
            // A text option's letter inside another's value is not one.
            (
                &["commit", "-Fm/../../x"],
                "pass the value as the next argument",
            ),
            (
                &["diff", "-OS", "/etc/passwd", "x"],
                "`/etc/passwd` is outside",
            ),
        ],
    );
}

#[test]
fn text_options_and_harmless_spellings_still_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs: &[&[&str]] = &[
        &["commit", "-m", "/not/a/path -u --upload-pack"],
        &["commit", "-am", "fix a/b"],
        &["commit", "-mSigned/off", "--no-gpg-sign"],
        &["commit", "--message", "/x", "--author", "A <a@b>"],
        &["log", "-Sfoo/bar", "--oneline", "-n5"],
        &["log", "--grep", "/x"],
        &["status", "-uno", "--porcelain"],
        &["fetch", "--no-recurse-submodules", "-o", "/opt", "."],
        &["clone", "-b", "main", "-o", "up", ".", "copy"],
        &["checkout", "-b", "feature/x"],
        &["diff", "--stat", "--output-indicator-new=+"],
        &["ls-remote", "--heads", "."],
        &["branch", "-vv"],
    ];
    for args in runs {
        if let Err(e) = prepare_in(dir.path(), true, args) {
            panic!("{args:?} was refused: {e}");
        }
    }
}

#[test]
fn a_flag_is_not_taken_for_a_text_option_and_its_value_skipped() {
    // `-b` is `--ignore-space-change` in `diff`, which then compares a
    // file outside the repository as if `--no-index` were given.
    let dir = tempfile::tempdir().expect("tempdir");
    refused(
        dir.path(),
        true,
        &[
            (
                &["diff", "-b", "/etc/passwd", "x"],
                "`/etc/passwd` is outside",
            ),
            (
                &["diff", "-B", "/etc/passwd", "x"],
                "`/etc/passwd` is outside",
            ),
            (
                &["diff", "-m", "/etc/passwd", "x"],
                "`/etc/passwd` is outside",
            ),
            (&["commit", "-o", "/etc/passwd"], "`/etc/passwd` is outside"),
            (
                &["status", "--branch", "/etc/passwd"],
                "`/etc/passwd` is outside",
            ),
        ],
    );
}

#[test]
fn only_listing_branch_options_run_in_a_read_only_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [
        &["branch"][..],
        &["branch", "-a", "-vv", "--format=%(refname)"],
        &["branch", "--show-current"],
        &["branch", "--contains=HEAD", "--sort=-committerdate"],
    ] {
        if let Err(e) = prepare_in(dir.path(), false, args) {
            panic!("{args:?} was refused: {e}");
        }
    }
    for args in [
        &["branch", "--set-upstream-to=origin/main"][..],
        &["branch", "--unset-u"],
        &["branch", "-uorigin/main"],
        &["branch", "--edit-d"],
        &["branch", "-qd", "main"],
        &["branch", "--del", "main"],
    ] {
        let err = prepare_in(dir.path(), false, args).expect_err("changes a branch");
        assert!(err.contains("may only read"), "{args:?}: {err}");
    }
}

#[test]
fn a_relative_argument_through_a_link_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink("/etc", dir.path().join("out")).expect("symlink");
    refused(
        dir.path(),
        true,
        &[
            (&["commit", "-F", "out/passwd"], "through a link"),
            (&["commit", "--file=out/passwd"], "through a link"),
            (&["clone", ".", "out/copy"], "through a link"),
            (&["init", "out"], "through a link"),
            (&["commit", "-Fout"], "through a link"),
            (&["commit", "-qFout"], "through a link"),
        ],
    );
    prepare_in(dir.path(), true, &["add", "inside/file"]).expect("inside");
}
