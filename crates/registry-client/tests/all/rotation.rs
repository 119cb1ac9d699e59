//! Key rotation for each top-level role: the client follows a rotation
//! published in a new root, a key the rotation retired can no longer get
//! anything accepted, rollback protection holds across the rotation, and
//! a refused file never replaces the trusted one. (Roles verified before
//! the refused one in the same refresh are kept, as the workflow requires:
//! a valid new timestamp stays trusted when the snapshot it lists is not.)

use lord_registry_client::tuf::TufError;

use crate::repo::{Client, Repo};

fn rotation_holds(role: &'static str) {
    let mut repo = Repo::new();
    repo.publish();
    let client = Client::new(&repo);
    client.refresh().expect("first refresh");
    assert_eq!(client.version("timestamp"), 2);

    // The repository rotates the role's key and publishes with the new one.
    let old = repo.rotate(role);
    repo.publish();
    client.refresh().expect("a refresh across the rotation");
    assert_eq!(client.version("root"), 2);
    for top in ["timestamp", "snapshot", "targets"] {
        assert_eq!(client.version(top), 3, "{top} after rotating {role}");
    }

    // The retired key signs the next version: refused, and the trusted
    // file of that role is unchanged.
    let before = client.file(role);
    let forged = if role == "root" {
        Some(repo.forge_root(&old))
    } else {
        repo.publish_signed(Some((role, &old)));
        None
    };
    let error = client.refresh().expect_err("signed by a retired key");
    assert!(
        matches!(&error, TufError::Threshold { role: r, valid: 0, .. } if r == role),
        "{error}"
    );
    assert_eq!(client.file(role), before, "a refused file is not kept");
    if let Some(forged) = forged {
        std::fs::remove_file(forged).expect("forged root");
    }

    // The repository recovers; then an older version, signed by the
    // current keys, is a rollback.
    repo.publish();
    client.refresh().expect("the repository recovered");
    let trusted = client.version("timestamp");
    let before = client.files();
    let refused = match role {
        "root" | "timestamp" => "timestamp",
        other => other,
    };
    let kept = client.file(refused);
    let next = repo.version + 1;
    let error = match role {
        "root" | "timestamp" => {
            let snapshot = repo.write_snapshot(2, 2, repo.key("snapshot"));
            repo.write_timestamp(2, &snapshot, 2, repo.key("timestamp"));
            client.refresh().expect_err("an older timestamp")
        }
        "snapshot" => {
            let snapshot = repo.write_snapshot(2, 2, repo.key("snapshot"));
            repo.write_timestamp(next, &snapshot, 2, repo.key("timestamp"));
            client.refresh().expect_err("an older snapshot")
        }
        _ => {
            repo.write_targets(2, repo.key("targets"));
            let snapshot = repo.write_snapshot(next, 2, repo.key("snapshot"));
            repo.write_timestamp(next, &snapshot, next, repo.key("timestamp"));
            client.refresh().expect_err("older targets")
        }
    };
    let rolled_back = match role {
        "root" | "timestamp" => {
            matches!(&error, TufError::Rollback { role, trusted: t, offered: 2 } if role == "timestamp" && *t == trusted)
        }
        "snapshot" => {
            matches!(&error, TufError::Rollback { role, offered: 2, .. } if role == "snapshot")
        }
        _ => matches!(&error, TufError::SnapshotRollback { .. }),
    };
    assert!(rolled_back, "rotating {role}: {error}");
    assert!(
        error.to_string().contains("rollback") || error.to_string().contains("rolled"),
        "{error}"
    );
    assert_eq!(client.file(refused), kept, "a refused file is not kept");
    if refused == "timestamp" {
        assert_eq!(
            client.files(),
            before,
            "a refused timestamp changes nothing"
        );
    }
}

#[test]
fn root_rotation_retires_the_old_root_key_and_keeps_rollback_protection() {
    rotation_holds("root");
}

#[test]
fn timestamp_rotation_retires_the_old_key_and_keeps_rollback_protection() {
    rotation_holds("timestamp");
}

#[test]
fn snapshot_rotation_retires_the_old_key_and_keeps_rollback_protection() {
    rotation_holds("snapshot");
}

#[test]
fn targets_rotation_retires_the_old_key_and_keeps_rollback_protection() {
    rotation_holds("targets");
}

/// Regression: trust used to start from the root saved at first contact on
/// every load, so a key a later root retired could still sign a root the
/// client accepted. Each refresh here is a fresh updater over the folder.
#[test]
fn trust_starts_from_the_newest_verified_root() {
    let mut repo = Repo::new();
    let client = Client::new(&repo);
    let old = repo.rotate("root");
    repo.rotate("root");
    repo.publish();
    client.refresh().expect("two rotations");
    assert_eq!(client.version("root"), 3);
    repo.forge_root(&old);
    assert!(matches!(
        client
            .refresh()
            .expect_err("a root signed by a key retired two roots ago"),
        TufError::Threshold { .. }
    ));
    assert_eq!(client.version("root"), 3);
}
