//! The `updater` plugin end to end, on a real template repository made
//! here (tags v1.0.0, v1.1.0 and v2.0.0, the last with a breaking commit)
//! and a project generated from v1.0.0 and then edited, so that a clean
//! update, a merge and a conflict all happen; a write that fails part way
//! (a file the system will not let anyone replace) puts every file back.
//! Its own `tests/cases.toml` runs through `lord pdk test` here too.

use std::path::Path;
use std::process::Command;

use crate::support::{Lord, Run};

/// The test's own git, with no configuration of the machine's.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Template")
        .env("GIT_AUTHOR_EMAIL", "template@example.invalid")
        .env("GIT_COMMITTER_NAME", "Template")
        .env("GIT_COMMITTER_EMAIL", "template@example.invalid")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The template, inside the project (where the plugin's grants reach),
/// and the project's files as generated from v1.0.0, then edited.
fn template_and_project(lord: &Lord) {
    let root = lord.project.path();
    let t = root.join("template");
    std::fs::create_dir(&t).expect("template folder");
    git(&t, &["init", "-q", "-b", "main"]);
    write(&t, "config.toml", "name = \"app\"\nversion = 1\n");
    write(&t, "README.md", "line one\nline two\nline three\n");
    write(&t, "main.py", "print(\"hello\")\n");
    write(&t, "old.txt", "keep me\n");
    git(&t, &["add", "-A"]);
    git(&t, &["commit", "-q", "-m", "feat: the first template"]);
    git(&t, &["tag", "v1.0.0"]);
    write(
        &t,
        "README.md",
        "line one\nline two\nline three\nline four from the template\n",
    );
    write(&t, "main.py", "print(\"hello, world\")\n");
    write(&t, "added.txt", "fresh\n");
    git(&t, &["add", "-A"]);
    git(
        &t,
        &["commit", "-q", "-m", "fix: a fourth line and added.txt"],
    );
    git(&t, &["tag", "v1.1.0"]);
    write(&t, "config.toml", "name = \"app\"\nversion = 2\n");
    git(&t, &["rm", "-q", "old.txt"]);
    git(
        &t,
        &[
            "commit",
            "-q",
            "-a",
            "-m",
            "refactor: config version 2",
            "-m",
            "BREAKING CHANGE: config.toml moves to version 2",
        ],
    );
    git(&t, &["tag", "v2.0.0"]);
    for name in ["config.toml", "README.md", "main.py", "old.txt"] {
        let text = git(&t, &["show", &format!("v1.0.0:{name}")]);
        write(root, name, &text);
    }
    // The project's own edits: a line above the template's change (it
    // merges) and the line the template changes in v2.0.0 (it conflicts).
    write(
        root,
        "README.md",
        "line zero, the project's own\nline one\nline two\nline three\n",
    );
    write(root, "config.toml", "name = \"app\"\nversion = 7\n");
}

fn update(lord: &Lord, args: &[&str]) -> Run {
    let mut all = vec!["update"];
    all.extend_from_slice(args);
    lord.run(&all)
}

fn json(run: &Run) -> serde_json::Value {
    run.assert_ok();
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

fn actions(plan: &serde_json::Value) -> Vec<(String, String)> {
    plan["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or("").to_owned(),
                f["action"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn a_clean_update_then_a_breaking_one_with_a_merge_and_a_conflict() {
    let lord = Lord::new();
    lord.install("updater");
    template_and_project(&lord);
    let root = lord.project.path();
    update(&lord, &["init", "template", "v1.0.0"]).assert_ok();
    assert!(read(root, ".lord-template.toml").contains("version = \"v1.0.0\""));

    let versions = json(&update(&lord, &["versions", "--json"]));
    assert_eq!(
        versions["versions"],
        serde_json::json!(["v1.0.0", "v1.1.0", "v2.0.0"])
    );
    assert_eq!(versions["newest"], "v2.0.0");

    // v1.0.0 → v1.1.0: a fix, not breaking; the README merges with the
    // project's own line, main.py (untouched here) takes the template's.
    let diff = json(&update(&lord, &["diff", "v1.1.0", "--json"]));
    assert_eq!(diff["breaking"], false);
    assert_eq!(diff["bump"], "minor");
    assert_eq!(diff["commits"][0]["type"], "fix");
    let before: Vec<String> = ["README.md", "main.py", "config.toml"]
        .iter()
        .map(|n| read(root, n))
        .collect();
    let dry = json(&update(&lord, &["apply", "v1.1.0", "--dry-run", "--json"]));
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        dry["written"],
        serde_json::json!(["README.md", "added.txt", "main.py"])
    );
    let after: Vec<String> = ["README.md", "main.py", "config.toml"]
        .iter()
        .map(|n| read(root, n))
        .collect();
    assert_eq!(before, after, "a dry run wrote a file");
    assert!(!root.join("added.txt").exists() && !root.join(".lord-template-backup").exists());
    assert!(read(root, ".lord-template.toml").contains("v1.0.0"));

    let applied = json(&update(&lord, &["apply", "v1.1.0", "--json"]));
    assert_eq!(
        actions(&applied),
        pairs(&[
            ("README.md", "merge"),
            ("added.txt", "add"),
            ("main.py", "update")
        ])
    );
    assert_eq!(applied["conflicts"], serde_json::json!([]));
    assert_eq!(
        read(root, "README.md"),
        "line zero, the project's own\nline one\nline two\nline three\nline four from the template\n"
    );
    assert_eq!(read(root, "main.py"), "print(\"hello, world\")\n");
    assert_eq!(read(root, "added.txt"), "fresh\n");
    assert!(read(root, ".lord-template.toml").contains("version = \"v1.1.0\""));

    // v1.1.0 → v2.0.0: breaking by its commit's footer and its major
    // version; config.toml changed on both sides conflicts, old.txt goes.
    let plan = json(&update(&lord, &["plan", "--json"]));
    assert_eq!(
        (plan["from"].as_str(), plan["to"].as_str()),
        (Some("v1.1.0"), Some("v2.0.0"))
    );
    assert_eq!(plan["diff"]["breaking"], true);
    let reasons = plan["diff"]["reasons"].to_string();
    assert!(reasons.contains("the major version changes"), "{reasons}");
    assert!(
        reasons.contains("config.toml moves to version 2"),
        "{reasons}"
    );
    assert_eq!(
        actions(&plan),
        pairs(&[("config.toml", "conflict"), ("old.txt", "delete")])
    );
    assert_eq!(plan["conflicts"], serde_json::json!(["config.toml"]));
    let run = update(&lord, &["apply"]);
    run.assert_ok();
    assert!(
        run.stdout().contains("conflicts (1):\n  config.toml"),
        "{}",
        run.stdout()
    );
    assert_eq!(
        read(root, "config.toml"),
        "name = \"app\"\n<<<<<<< ours\nversion = 7\n||||||| original\nversion = 1\n=======\nversion = 2\n>>>>>>> theirs\n"
    );
    assert!(!root.join("old.txt").exists());
    // The backup holds the files as they were before this apply.
    let backup = root.join(".lord-template-backup");
    assert_eq!(
        read(&backup, "config.toml"),
        "name = \"app\"\nversion = 7\n"
    );
    assert_eq!(read(&backup, "old.txt"), "keep me\n");
    assert!(read(root, ".lord-template.toml").contains("version = \"v2.0.0\""));
}

#[test]
fn overwrite_and_selective_strategies() {
    let lord = Lord::new();
    lord.install("updater");
    template_and_project(&lord);
    let root = lord.project.path();
    update(&lord, &["init", "template", "v1.0.0"]).assert_ok();

    let selective = json(&update(
        &lord,
        &["apply", "v2.0.0", "--only", "main.py", "--json"],
    ));
    assert_eq!(selective["written"], serde_json::json!(["main.py"]));
    assert_eq!(selective["recorded"], serde_json::Value::Null);
    assert_eq!(read(root, "main.py"), "print(\"hello, world\")\n");
    assert_eq!(read(root, "config.toml"), "name = \"app\"\nversion = 7\n");
    assert!(read(root, ".lord-template.toml").contains("v1.0.0"));

    let run = update(&lord, &["apply", "v2.0.0", "--only", "nothing.txt"]);
    run.assert_code(3)
        .assert_stderr_contains("`nothing.txt` is not a file the template changed");

    update(&lord, &["apply", "v2.0.0", "--strategy", "overwrite"]).assert_ok();
    assert_eq!(read(root, "config.toml"), "name = \"app\"\nversion = 2\n");
    assert_eq!(
        read(root, "README.md"),
        "line one\nline two\nline three\nline four from the template\n"
    );
}

/// Makes `file` impossible to replace, as a full disk or a locked file
/// would: for root, the immutable attribute (which even root's writes
/// obey); for anyone else, a folder without write permission.
struct Locked<'a> {
    file: &'a Path,
    root: bool,
}

impl<'a> Locked<'a> {
    fn new(file: &'a Path) -> Self {
        let uid = Command::new("id").arg("-u").output().expect("id runs");
        let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let ok = if root {
            Command::new("chattr")
                .arg("+i")
                .arg(file)
                .status()
                .expect("chattr runs (e2fsprogs)")
                .success()
        } else {
            use std::os::unix::fs::PermissionsExt as _;
            let dir = file.parent().expect("a folder");
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).is_ok()
        };
        assert!(ok, "could not lock {}", file.display());
        Self { file, root }
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if self.root {
            let _ = Command::new("chattr").arg("-i").arg(self.file).status();
        } else if let Some(dir) = self.file.parent() {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
        }
    }
}

#[test]
fn a_write_failing_part_way_puts_every_file_back() {
    let lord = Lord::new();
    lord.install("updater");
    template_and_project(&lord);
    let root = lord.project.path();
    update(&lord, &["init", "template", "v1.0.0"]).assert_ok();
    let names = [
        "README.md",
        "config.toml",
        "main.py",
        "old.txt",
        ".lord-template.toml",
    ];
    let before: Vec<String> = names.iter().map(|n| read(root, n)).collect();
    // Files are written in path order: README.md and added.txt come
    // before config.toml, main.py and old.txt after it.
    let config = root.join("config.toml");
    let run = {
        let _locked = Locked::new(&config);
        update(&lord, &["apply", "v2.0.0", "--strategy", "overwrite"])
    };
    run.assert_code(3)
        .assert_stderr_contains("applying stopped at `config.toml`")
        .assert_stderr_contains("every file it had changed was put back");
    let after: Vec<String> = names.iter().map(|n| read(root, n)).collect();
    assert_eq!(before, after, "a file was left changed");
    assert!(!root.join("added.txt").exists(), "a created file was left");
    assert_eq!(
        read(&root.join(".lord-template-backup"), "README.md"),
        before[0],
        "the backup holds the file as it was"
    );
    // Once the file can be written again, the same update goes through.
    update(&lord, &["apply", "v2.0.0", "--strategy", "overwrite"]).assert_ok();
    assert_eq!(read(root, "config.toml"), "name = \"app\"\nversion = 2\n");
}

#[test]
fn a_template_outside_the_project_is_refused_by_the_sandbox() {
    let lord = Lord::new();
    lord.install("updater");
    let elsewhere = tempfile::tempdir().expect("temp");
    git(elsewhere.path(), &["init", "-q", "-b", "main"]);
    let path = elsewhere.path().to_str().expect("utf-8");
    let run = update(&lord, &["init", path, "v1.0.0"]);
    run.assert_code(3)
        .assert_stderr_contains("could not be read")
        .assert_stderr_contains("a template on disk must be inside the project folder");
    assert!(!lord.project.path().join(".lord-template.toml").exists());
}

#[test]
fn the_updater_plugin_passes_its_own_cases() {
    let lord = Lord::new();
    let dir = crate::support::fixture("updater");
    let run = lord.run(&["pdk", "test", dir.to_str().expect("utf-8")]);
    run.assert_ok();
    let declared = std::fs::read_to_string(dir.join("tests/cases.toml"))
        .expect("cases")
        .matches("[[case]]")
        .count();
    assert!(declared >= 10, "only {declared} declared cases");
}
