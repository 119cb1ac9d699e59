//! Layers, profiles, origins, plugin schemas and hot reload, on real files.

use std::path::PathBuf;

use lord_config::{Config, ConfigError, Layer, Reload, Sources, Watcher, set_checked, set_in_file};
use serde_json::json;

struct Files {
    _dir: tempfile::TempDir,
    system: PathBuf,
    user: PathBuf,
    project: PathBuf,
}

fn files() -> Files {
    let dir = tempfile::tempdir().expect("dir");
    Files {
        system: dir.path().join("system.toml"),
        user: dir.path().join("user.toml"),
        project: dir.path().join("lord.toml"),
        _dir: dir,
    }
}

impl Files {
    fn sources(&self) -> Sources {
        Sources {
            system: Some(self.system.clone()),
            user: Some(self.user.clone()),
            project: Some(self.project.clone()),
            ..Sources::default()
        }
    }
}

#[test]
fn each_layer_overrides_the_one_below_and_says_where_a_value_came_from() {
    let f = files();
    std::fs::write(&f.system, "theme = \"dark\"\nlog.level = \"error\"\n").expect("write");
    std::fs::write(
        &f.user,
        "[log]\nlevel = \"info\"\n[plugins.notes]\nmax = 10\n",
    )
    .expect("write");
    std::fs::write(&f.project, "[plugins.notes]\nmax = 20\nlabel = \"proj\"\n").expect("write");
    let mut sources = f.sources();
    sources.env = vec![
        (
            "LORD_PLUGINS__NOTES__LABEL".to_owned(),
            "from-env".to_owned(),
        ),
        ("LORD_HOME".to_owned(), "/not/config".to_owned()),
        ("LORD_SOMETHING_ELSE".to_owned(), "not lord's".to_owned()),
        ("PATH".to_owned(), "/bin".to_owned()),
    ];
    sources.flags = vec!["events.retention-days=30".to_owned()];
    let config = Config::load(&sources).expect("loads");

    assert_eq!(config.get("theme"), Some(json!("dark")));
    assert_eq!(config.origin("theme").map(|o| o.layer), Some(Layer::System));
    assert_eq!(config.get("log.level"), Some(json!("info")));
    assert_eq!(
        config.origin("log.level").map(|o| o.layer),
        Some(Layer::User)
    );
    assert_eq!(config.get("plugins.notes.max"), Some(json!(20)));
    assert_eq!(
        config.origin("plugins.notes.max").map(|o| o.layer),
        Some(Layer::Project)
    );
    assert_eq!(config.get("plugins.notes.label"), Some(json!("from-env")));
    assert_eq!(
        config
            .origin("plugins.notes.label")
            .map(ToString::to_string),
        Some("environment variable LORD_PLUGINS__NOTES__LABEL".to_owned())
    );
    assert_eq!(config.get("events.retention-days"), Some(json!(30)));
    assert_eq!(
        config.origin("events.retention-days").map(|o| o.layer),
        Some(Layer::Flag)
    );
    assert_eq!(
        config.plugin("notes"),
        json!({ "max": 20, "label": "from-env" })
    );
    assert_eq!(config.plugin("other"), json!({}));
}

#[test]
fn a_profile_overlays_each_file_and_an_unknown_one_is_refused() {
    let f = files();
    std::fs::write(
        &f.user,
        "log.level = \"warn\"\n[profile.ci.log]\nlevel = \"debug\"\n",
    )
    .expect("write");
    std::fs::write(
        &f.project,
        "theme = \"light\"\n[profile.ci]\ntheme = \"none\"\n",
    )
    .expect("write");
    let mut sources = f.sources();
    let plain = Config::load(&sources).expect("loads");
    assert_eq!(plain.get("log.level"), Some(json!("warn")));
    sources.profile = Some("ci".to_owned());
    let ci = Config::load(&sources).expect("loads");
    assert_eq!(ci.get("log.level"), Some(json!("debug")));
    assert_eq!(ci.get("theme"), Some(json!("none")));
    assert!(
        ci.origin("theme")
            .expect("origin")
            .to_string()
            .ends_with("[profile ci]")
    );
    sources.profile = Some("nightly".to_owned());
    assert!(matches!(
        Config::load(&sources),
        Err(ConfigError::UnknownProfile(name)) if name == "nightly"
    ));
}

#[test]
fn a_bad_value_or_a_typo_is_refused_naming_its_origin() {
    let f = files();
    std::fs::write(&f.project, "log.level = \"loud\"\n").expect("write");
    let err = Config::load(&f.sources()).expect_err("bad level");
    let message = err.to_string();
    assert!(message.contains("lord.toml"), "{message}");
    assert!(message.contains("log.level"), "{message}");
    assert!(
        message.contains("trace, debug, info, warn, error"),
        "{message}"
    );

    std::fs::write(&f.project, "thme = \"dark\"\n").expect("write");
    let err = Config::load(&f.sources()).expect_err("typo");
    assert!(err.to_string().contains("is not a lord setting"), "{err}");

    std::fs::write(&f.project, "theme = \n").expect("write");
    let err = Config::load(&f.sources()).expect_err("syntax");
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
}

#[test]
fn plugin_tables_are_checked_against_their_schemas() {
    let f = files();
    std::fs::write(&f.project, "[plugins.notes]\nmax = \"lots\"\n").expect("write");
    let config = Config::load(&f.sources()).expect("loads");
    let schema = json!({
        "type": "object",
        "properties": { "max": { "type": "integer", "minimum": 1 } },
        "additionalProperties": false
    });
    let problems = config.check_plugins([("notes", &schema)]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].key, "plugins.notes.max");
    assert!(
        problems[0].origin.contains("lord.toml"),
        "{:?}",
        problems[0]
    );
    std::fs::write(&f.project, "[plugins.notes]\nmax = 3\n").expect("write");
    let config = Config::load(&f.sources()).expect("loads");
    assert!(config.check_plugins([("notes", &schema)]).is_empty());
}

#[test]
fn hot_reload_applies_a_valid_change_and_keeps_the_old_config_on_an_invalid_one() {
    let f = files();
    std::fs::write(
        &f.project,
        "log.level = \"warn\"\n[plugins.notes]\nmax = 3\n",
    )
    .expect("write");
    let schema = json!({ "type": "object", "properties": { "max": { "type": "integer" } } });
    let mut watcher = Watcher::new(f.sources(), move |config| {
        match config.check_plugins([("notes", &schema)]).first() {
            Some(problem) => Err(problem.to_string()),
            None => Ok(()),
        }
    })
    .expect("watcher");
    let mut subscriber = watcher.subscribe();
    assert_eq!(watcher.poll(), Reload::Unchanged);

    std::fs::write(
        &f.project,
        "log.level = \"debug\"\n[plugins.notes]\nmax = 3\n",
    )
    .expect("write");
    assert_eq!(
        watcher.poll(),
        Reload::Applied {
            changed: vec!["log.level".to_owned()]
        }
    );
    assert!(
        subscriber.has_changed().expect("open"),
        "subscribers are told"
    );
    assert_eq!(
        subscriber.borrow_and_update().get("log.level"),
        Some(json!("debug"))
    );

    // Invalid for lord itself, then invalid for the plugin's schema: both
    // rejected with the reason, the applied config unchanged.
    for bad in [
        "log.level = \"shouting\"\n[plugins.notes]\nmax = 3\n",
        "log.level = \"info\"\n[plugins.notes]\nmax = \"three\"\n",
        "log.level = [\n",
    ] {
        std::fs::write(&f.project, bad).expect("write");
        match watcher.poll() {
            Reload::Rejected { reason } => assert!(!reason.is_empty()),
            other @ (Reload::Unchanged | Reload::Applied { .. }) => {
                panic!("{bad:?} was not rejected: {other:?}")
            }
        }
        assert_eq!(watcher.current().get("log.level"), Some(json!("debug")));
        assert_eq!(watcher.current().get("plugins.notes.max"), Some(json!(3)));
        assert!(
            !subscriber.has_changed().expect("open"),
            "no wake-up for a rejection"
        );
        // The same bad content is judged once.
        assert_eq!(watcher.poll(), Reload::Unchanged);
    }
}

#[test]
fn set_in_file_keeps_comments_and_creates_tables() {
    let f = files();
    std::fs::write(&f.user, "# my settings\ntheme = \"dark\" # night owl\n").expect("write");
    let old = set_in_file(&f.user, "plugins.notes.max", "5").expect("set");
    assert_eq!(
        old.as_deref(),
        Some("# my settings\ntheme = \"dark\" # night owl\n")
    );
    set_in_file(&f.user, "log.level", "debug").expect("set bare word");
    let text = std::fs::read_to_string(&f.user).expect("read");
    assert!(text.contains("# my settings"), "{text}");
    assert!(text.contains("# night owl"), "{text}");
    let config = Config::load(&f.sources()).expect("loads");
    assert_eq!(config.get("plugins.notes.max"), Some(json!(5)));
    assert_eq!(config.get("log.level"), Some(json!("debug")));
}

/// A checked set writes nothing it has not checked: a refused value (by
/// lord's own checks or the caller's) leaves the file byte for byte and
/// no temporary file beside it; an accepted one is in the file.
#[test]
fn a_checked_set_replaces_the_file_only_with_a_configuration_that_holds() {
    let f = files();
    std::fs::write(&f.user, "# mine\nlog.level = \"info\"\n").expect("write");
    let before = std::fs::read_to_string(&f.user).expect("read");
    let refused = set_checked(&f.sources(), &f.user, "log.level", "shouting", |_| Ok(()))
        .expect("no I/O error")
        .expect_err("an invalid level was written");
    assert!(refused.contains("user.toml"), "{refused}");
    assert!(!refused.contains(".lord-config-"), "{refused}");
    let vetoed = set_checked(&f.sources(), &f.user, "theme", "light", |config| {
        assert_eq!(config.get("theme"), Some(json!("light")));
        Err("the caller says no".to_owned())
    })
    .expect("no I/O error");
    assert_eq!(vetoed.expect_err("vetoed"), "the caller says no");
    assert_eq!(std::fs::read_to_string(&f.user).expect("read"), before);
    let config = set_checked(&f.sources(), &f.user, "theme", "light", |_| Ok(()))
        .expect("no I/O error")
        .expect("accepted");
    assert_eq!(config.get("theme"), Some(json!("light")));
    let text = std::fs::read_to_string(&f.user).expect("read");
    assert!(
        text.contains("# mine") && text.contains("theme = \"light\""),
        "{text}"
    );
    let names: Vec<String> = std::fs::read_dir(f.user.parent().expect("dir"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(".lord-config-")),
        "{names:?}"
    );
}

/// Edits at once each keep the others': none reads the file while another
/// is between its read and its write.
#[test]
fn checked_sets_at_once_lose_no_change() {
    let f = files();
    let sources = f.sources();
    std::thread::scope(|scope| {
        for n in 0..8 {
            let (sources, user) = (&sources, &f.user);
            scope.spawn(move || {
                set_checked(sources, user, &format!("plugins.p{n}.value"), "1", |_| {
                    Ok(())
                })
                .expect("no I/O error")
                .expect("accepted");
            });
        }
    });
    let config = Config::load(&f.sources()).expect("loads");
    for n in 0..8 {
        assert_eq!(
            config.get(&format!("plugins.p{n}.value")),
            Some(json!(1)),
            "p{n}"
        );
    }
}

#[test]
fn output_settings_take_a_switch_and_a_list_of_plugin_ids() {
    let f = files();
    let config = Config::load(&f.sources()).expect("defaults");
    assert_eq!(config.get("output.raw"), Some(json!(false)));
    assert_eq!(config.get("output.raw-plugins"), Some(json!([])));

    std::fs::write(
        &f.user,
        "[output]\nraw = true\nraw-plugins = [\"notes\", \"my-tool2\"]\n",
    )
    .expect("write");
    let config = Config::load(&f.sources()).expect("valid");
    assert_eq!(config.get("output.raw"), Some(json!(true)));
    assert_eq!(
        config.get("output.raw-plugins"),
        Some(json!(["notes", "my-tool2"]))
    );

    for (text, complaint) in [
        ("[output]\nraw = \"yes\"\n", "must be true or false"),
        (
            "[output]\nraw-plugins = \"notes\"\n",
            "must be a list of plugin ids",
        ),
        (
            "[output]\nraw-plugins = [\"Notes\"]\n",
            "must be a list of plugin ids",
        ),
    ] {
        std::fs::write(&f.user, text).expect("write");
        let err = Config::load(&f.sources()).expect_err(text);
        assert!(err.to_string().contains(complaint), "{err}");
    }
}
