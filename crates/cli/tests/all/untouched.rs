//! A command that needs nothing from `$LORD_HOME` opens nothing there:
//! `lord --version` answers without the store, so it neither creates nor
//! reads `lord.db` (nor `state.db`, nor `perf.db`).

use crate::support::Lord;

/// The names in the home, sorted.
fn names(lord: &Lord) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(lord.home.path())
        .expect("the home is readable")
        .map(|e| {
            e.expect("a home entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn the_version_opens_no_store() {
    let lord = Lord::new();
    for flag in ["--version", "-V"] {
        let run = lord.run(&[flag]);
        run.assert_ok();
        assert_eq!(
            run.stdout().trim(),
            format!("lord {}", env!("CARGO_PKG_VERSION")),
            "`lord {flag}` printed something else"
        );
        assert_eq!(
            names(&lord),
            Vec::<String>::new(),
            "`lord {flag}` wrote into the home"
        );
    }
    // The same home is used as usual by the next command.
    lord.run(&["plugin", "list"]).assert_ok();
    assert!(
        names(&lord).iter().any(|n| n == "lord.db"),
        "`lord plugin list` opened no store: this test cannot tell"
    );
}
