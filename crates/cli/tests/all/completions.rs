//! Shell completions and the man page, generated from the same command
//! tree as `--help`: lord's own commands and the installed plugins' ones.

use crate::support::Lord;

#[test]
fn bash_completions_include_an_installed_plugins_command() {
    let lord = Lord::new();
    let before = lord.run(&["completions", "bash"]);
    before.assert_ok();
    assert!(before.stdout().contains("plugin"), "{}", before.stdout());
    assert!(!before.stdout().contains("hello"), "{}", before.stdout());

    lord.install("hello");
    let after = lord.run(&["completions", "bash"]);
    after.assert_ok();
    let script = after.stdout();
    assert!(script.contains("complete"), "not a bash script:\n{script}");
    assert!(script.contains("hello"), "no plugin command:\n{script}");
}

#[test]
fn every_documented_shell_gets_a_script() {
    let lord = Lord::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = lord.run(&["completions", shell]);
        run.assert_ok();
        assert!(run.stdout().contains("lord"), "{shell}: {}", run.stdout());
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let lord = Lord::new();
    lord.run(&["completions", "tcsh"])
        .assert_code(2)
        .assert_stderr_contains("tcsh");
}

#[test]
fn the_man_page_is_roff_and_names_lords_commands() {
    let lord = Lord::new();
    let run = lord.run(&["man"]);
    run.assert_ok();
    let page = run.stdout();
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    assert!(page.contains(".TH lord"), "no title header:\n{page}");
    assert!(page.contains("plugin"), "{page}");
}
