//! Logging that works: `log.level` chooses which plugin log records show
//! (each carrying its plugin's id), `--verbose` and `--quiet` override it
//! for one run, and `--quiet` also leaves lord's status lines out. Colour
//! on a terminal and `NO_COLOR` are `terminal.rs`'s.

use crate::support::Lord;

#[test]
fn log_level_verbose_and_quiet_choose_what_shows() {
    let lord = Lord::new();
    lord.install("napper");
    // The default level is `warn`: napper's `info` record is left out.
    let default = lord.run(&["nap", "1"]);
    default.assert_ok();
    assert!(!default.stderr().contains("slept"), "{}", default.stderr());

    let info = lord.run(&["--set", "log.level=info", "nap", "1"]);
    info.assert_ok();
    assert_eq!(info.stderr(), "[napper] info: slept 1 ms\n");

    // `--verbose` shows records down to `debug`, and lord's own.
    let verbose = lord.run(&["-v", "nap", "1"]);
    verbose.assert_ok();
    assert!(
        verbose.stderr().contains("[napper] info: slept 1 ms\n"),
        "{}",
        verbose.stderr()
    );
    assert!(
        verbose
            .stderr()
            .contains("lord: debug: `napper` ran `nap`: 1 log records"),
        "{}",
        verbose.stderr()
    );

    // `--quiet` wins over the configuration, and quiets lord's own lines.
    let quiet = lord.run(&["--quiet", "--set", "log.level=info", "nap", "1"]);
    quiet.assert_ok();
    assert_eq!(quiet.stderr(), "");
    assert_eq!(quiet.stdout(), "slept 1 ms\n");
    let disable = lord.run(&["plugin", "disable", "napper", "-q"]);
    disable.assert_ok();
    assert_eq!(disable.stderr(), "");
    let enable = lord.run(&["plugin", "enable", "napper"]);
    enable.assert_ok();
    assert_ne!(enable.stderr(), "", "status lines show without --quiet");
}
