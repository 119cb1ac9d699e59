//! Lord's own state stays out of every grant (a plugin granted
//! `fs-write($PROJECT)`, the grant any formatter asks for, must not reach
//! the database where grants are recorded, the configuration or compiled
//! code), `$PROJECT` is a project and never the home folder, and commands
//! that only read keep working when the disk is full.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Lord, Run, fixture};

/// A user whose home is kept in git (dotfiles) with lord's state in the
/// default place under it, and a project of theirs.
struct Home {
    lord: Lord,
    root: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        let home = Self {
            lord: Lord::new(),
            root: tempfile::tempdir().expect("user home"),
        };
        std::fs::create_dir_all(home.lord_home()).expect("LORD_HOME");
        std::fs::create_dir_all(home.user().join(".git")).expect("dotfiles repository");
        std::fs::create_dir_all(home.app()).expect("project");
        std::fs::write(home.app().join("Cargo.toml"), "[package]\n").expect("project marker");
        home
    }

    fn user(&self) -> &Path {
        self.root.path()
    }

    fn lord_home(&self) -> PathBuf {
        self.user().join(".local/share/lord")
    }

    fn app(&self) -> PathBuf {
        self.user().join("code/app")
    }

    fn command(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut cmd = self.lord.command(args);
        cmd.current_dir(cwd)
            .env("HOME", self.user())
            .env("LORD_HOME", self.lord_home());
        cmd
    }

    fn run(&self, cwd: &Path, args: &[&str]) -> Run {
        self.lord.run_cmd(&mut self.command(cwd, args))
    }

    fn install(&self, cwd: &Path, name: &str) -> Run {
        let dir = fixture(name);
        let run = self.run(
            cwd,
            &["plugin", "install", dir.to_str().expect("utf-8"), "--yes"],
        );
        run.assert_ok();
        run
    }
}

/// Every file under `dir`, relative to it.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(dir).expect("under dir").to_path_buf());
            }
        }
    }
    found
}

#[test]
fn a_project_grant_that_would_reach_lord_home_is_refused_before_any_guest_code_runs() {
    let home = Home::new();
    home.install(&home.app(), "hostile/homewriter");
    let ran = |dir: &Path| dir.join("homewriter-ran").exists();

    // From the home folder itself (a git repository): home is never a
    // project, so there is nothing `$PROJECT` may mean.
    let from_home = home.run(
        home.user(),
        &["homewriter", "/project/.local/share/lord/lord.db"],
    );
    from_home.assert_code(2).assert_stderr_contains(
        "its grant `fs-write($PROJECT)` needs a project, and there is none here",
    );
    assert!(!ran(home.user()), "guest code ran from the home folder");

    // From a folder above LORD_HOME with no project marker: `$PROJECT` is
    // that folder, which holds lord's state, so the call is refused.
    let above = home.user().join(".local");
    let from_above = home.run(&above, &["homewriter", "/project/share/lord/lord.db"]);
    from_above
        .assert_code(2)
        .assert_stderr_contains(&format!(
            "its grant `fs-write($PROJECT)` resolves to `{}`",
            above.display()
        ))
        .assert_stderr_contains(&format!("holds `{}`", home.lord_home().display()))
        .assert_stderr_contains("move LORD_HOME out of it");
    assert!(!ran(&above), "guest code ran with lord's state in reach");

    // From inside the project's source folder, `$PROJECT` is the project.
    let deep = home.app().join("src");
    std::fs::create_dir_all(&deep).expect("src");
    let from_deep = home.run(&deep, &["homewriter"]);
    from_deep.assert_ok();
    assert!(
        ran(&home.app()),
        "the project is the folder with Cargo.toml"
    );
}

#[test]
fn links_from_the_project_into_lord_home_open_nothing_for_writing() {
    let home = Home::new();
    home.install(&home.app(), "hello");
    home.install(&home.app(), "hostile/homewriter");
    // Compiled code in the cache, so there is a `.cwasm` to aim at.
    home.run(&home.app(), &["hello", "World"]).assert_ok();
    let state = files(&home.lord_home());
    assert!(
        state.iter().any(|f| f.starts_with("cache")),
        "no compiled code cached: {state:?}"
    );
    std::os::unix::fs::symlink(home.lord_home(), home.app().join("state")).expect("link");
    std::os::unix::fs::symlink(home.lord_home().join("lord.db"), home.app().join("db"))
        .expect("link");
    // A file of the project's own, which the grant does reach: the attempt
    // below can succeed, so its refusals mean something.
    std::fs::write(home.app().join("own.txt"), "mine\n").expect("own file");
    let mut targets = vec!["/project/own.txt".to_owned(), "/project/db".to_owned()];
    targets.extend(
        state
            .iter()
            .map(|f| format!("/project/state/{}", f.display())),
    );
    let mut args = vec!["homewriter"];
    args.extend(targets.iter().map(String::as_str));
    let run = home.run(&home.app(), &args);
    run.assert_ok();
    let report = run.stdout();
    assert!(report.contains("OPENED /project/own.txt"), "{report}");
    let opened: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("OPENED") && !l.ends_with("own.txt"))
        .collect();
    assert!(
        opened.is_empty(),
        "lord's state opened for writing: {opened:?}\n{report}"
    );
    home.run(&home.app(), &["hello", "World"]).assert_ok();
}

#[test]
fn the_install_plan_and_plugin_info_say_which_folder_project_is() {
    let home = Home::new();
    let install = home.install(&home.app(), "hostile/homewriter");
    install.assert_stderr_contains(&format!("$PROJECT this run: {}", home.app().display()));
    let info = home.run(&home.app().join(".."), &["plugin", "info", "homewriter"]);
    info.assert_ok();
    assert!(
        info.stdout().contains(&format!(
            "$PROJECT:    {}",
            home.user().join("code").display()
        )),
        "{}",
        info.stdout()
    );
    let json = home.run(home.user(), &["plugin", "info", "homewriter", "--json"]);
    json.assert_ok();
    let value: serde_json::Value = serde_json::from_slice(&json.output.stdout).expect("JSON");
    assert!(value["project"].is_null(), "{value}");
    assert!(value.get("project").is_some(), "{value}");
    let hello = home.install(&home.app(), "hello");
    assert!(!hello.stderr().contains("$PROJECT"), "{}", hello.stderr());
}

/// A full device other than `$LORD_HOME`'s (here the one standard output
/// goes to) is not blamed on `$LORD_HOME`: the user is sent to free space
/// where it ran out.
#[test]
fn a_full_disk_elsewhere_is_not_blamed_on_lord_home() {
    let Some(disk) = SmallDisk::mount_or_skip("2m") else {
        return;
    };
    let lord = Lord::new();
    lord.run(&["db", "add", "app", "sqlite:app.db"]).assert_ok();
    lord.run(&[
        "db",
        "query",
        "app",
        "CREATE TABLE t AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
         WHERE i < 20000) SELECT i, printf('%0200d', i) AS pad FROM n",
    ])
    .assert_ok();
    let filler = disk.fill(0);
    let out = std::fs::File::create(disk.path().join("rows.csv")).expect("output file");
    let mut cmd = lord.command(&["db", "query", "app", "SELECT * FROM t", "--csv"]);
    cmd.stdout(out);
    let run = lord.run_cmd(&mut cmd);
    assert!(!run.output.status.success(), "rows written to a full disk");
    run.assert_stderr_contains("no space left on the device the command was writing to");
    assert!(!run.stderr().contains("move LORD_HOME"), "{}", run.stderr());
    drop(filler);
}

/// A small real filesystem for `LORD_HOME`, unmounted on drop. Mounting
/// needs root (as CI has); elsewhere the test says why it skips.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// [`SmallDisk::mount`], or `None` after saying why the test skips.
    /// Mounting needs root: CI as root must run the test, others skip it.
    /// (The rule against reading the environment is for the CLI's own
    /// code; a test harness asks whether it runs in CI.)
    fn mount_or_skip(size: &str) -> Option<Self> {
        let disk = Self::mount(size);
        if disk.is_none() {
            #[allow(clippy::disallowed_methods)]
            let in_ci = std::env::var_os("CI").is_some();
            assert!(
                !in_ci || !running_as_root(),
                "running as root in CI, but a tmpfs could not be mounted"
            );
            eprintln!("skipped: mounting a tmpfs needs root here");
        }
        disk
    }

    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|out| out.status.success());
        mounted.then_some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the filesystem, then frees `leave` bytes.
    fn fill(&self, leave: u64) -> PathBuf {
        use std::io::Write as _;
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 4096];
        while file.write_all(&block).is_ok() {}
        let _ = file.flush();
        let len = file.metadata().expect("filler size").len();
        file.set_len(len.saturating_sub(leave))
            .expect("free a little");
        filler
    }
}

/// Whether the tests run as root (`id -u` is 0).
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn on_a_full_disk_reading_commands_answer_and_refused_writes_name_the_cause() {
    let Some(disk) = SmallDisk::mount_or_skip("64m") else {
        return;
    };
    let lord = Lord::new();
    let home = disk.path().join("lord");
    let run = |args: &[&str]| {
        let mut cmd = lord.command(args);
        cmd.env("LORD_HOME", &home);
        lord.run_cmd(&mut cmd)
    };
    for name in ["hello", "notes", "tally"] {
        let dir = fixture(name);
        run(&["plugin", "install", dir.to_str().expect("utf-8"), "--yes"]).assert_ok();
    }
    run(&["note", "before the disk filled"]).assert_ok();
    run(&["hello", "World"]).assert_ok();
    // One plugin's compiled code is gone: on a full disk it is compiled in
    // memory and runs, and the cache is simply not written.
    for entry in files(&home) {
        if entry.starts_with("cache") && entry.to_string_lossy().ends_with(".cwasm") {
            std::fs::remove_file(home.join(entry)).expect("drop a cache entry");
            break;
        }
    }
    let filler = disk.fill(8 * 1024);

    let list = run(&["plugin", "list"]);
    list.assert_ok();
    assert!(list.stdout().contains("hello"), "{}", list.stdout());
    let notes = run(&["notes"]);
    notes.assert_ok();
    assert!(
        notes.stdout().contains("before the disk filled"),
        "{}",
        notes.stdout()
    );
    let hello = run(&["hello", "World"]);
    hello.assert_ok();
    assert_eq!(hello.stdout(), "Hello, World!\n");
    run(&["plugin", "info", "notes"]).assert_ok();

    let named = format!(
        "no space left on the device holding `$LORD_HOME` (`{}`)",
        home.display()
    );
    let note = run(&["note", "while the disk is full"]);
    assert!(
        !note.output.status.success(),
        "a note was written on a full disk"
    );
    note.assert_stderr_contains(&named);
    assert!(
        !note.stderr().contains("disk I/O error"),
        "{}",
        note.stderr()
    );
    let workspace = fixture("workspace");
    let install = run(&[
        "plugin",
        "install",
        workspace.to_str().expect("utf-8"),
        "--yes",
    ]);
    assert!(!install.output.status.success(), "installed on a full disk");
    install.assert_stderr_contains(&named);

    // Space again: everything from before is there, nothing half-written.
    std::fs::remove_file(filler).expect("free the disk");
    let notes = run(&["notes"]);
    notes.assert_ok();
    assert!(
        notes.stdout().contains("before the disk filled"),
        "{}",
        notes.stdout()
    );
    assert!(
        !notes.stdout().contains("while the disk is full"),
        "{}",
        notes.stdout()
    );
    run(&["note", "after"]).assert_ok();
    run(&[
        "plugin",
        "install",
        workspace.to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_ok();
    let list = run(&["plugin", "list", "--json"]);
    list.assert_ok();
    for id in ["hello", "notes", "tally", "workspace"] {
        assert!(
            list.stdout().contains(&format!("\"{id}\"")),
            "{id} missing: {}",
            list.stdout()
        );
    }
}
