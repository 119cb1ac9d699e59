//! Scratch folders under `$LORD_HOME/tmp` (validation staging, the
//! development kit's test and record homes): each named after the process
//! that made it (`PREFIX-pPID-RANDOM`), so what a killed process left is
//! recognised and removed by the next one that makes a scratch folder,
//! while a live process's folder is never touched, however old.

use std::path::Path;
use std::time::Duration;

/// Where process liveness cannot be asked (no `/proc`), a scratch folder
/// this old is taken as left behind.
const ORPHAN_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// A new scratch folder under `root`, after sweeping the ones dead
/// processes left there. Removed when the returned value drops.
pub fn scratch_dir(root: &Path, prefix: &str) -> std::io::Result<tempfile::TempDir> {
    std::fs::create_dir_all(root)?;
    sweep_dead(root);
    tempfile::Builder::new()
        .prefix(&format!("{prefix}-p{}-", std::process::id()))
        .tempdir_in(root)
}

/// The process id a scratch folder's name carries, if it is one.
fn owner(name: &str) -> Option<u32> {
    name.split('-')
        .find_map(|part| part.strip_prefix('p').and_then(|pid| pid.parse().ok()))
}

fn alive(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    proc.join("self")
        .exists()
        .then(|| proc.join(pid.to_string()).exists())
}

/// Removes the scratch folders under `root` whose process is gone; returns
/// how many. Plugins' own `tmp/<id>/` folders carry no process id and are
/// never touched. Best effort: a failure costs disk space only.
pub fn sweep_dead(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = owner(&name.to_string_lossy()) else {
            continue;
        };
        let gone = match alive(pid) {
            Some(alive) => !alive,
            None => entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > ORPHAN_AGE),
        };
        if gone && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_dead_process_left_is_removed_and_a_live_ones_is_kept() {
        let root = tempfile::tempdir().expect("root");
        // No process has this id (above Linux's pid_max).
        let dead = root.path().join("lord-pdk-test-p4294967290-abc");
        std::fs::create_dir_all(dead.join("home")).expect("dead");
        let plugin_tmp = root.path().join("notes");
        std::fs::create_dir_all(&plugin_tmp).expect("plugin tmp");
        let mine = scratch_dir(root.path(), "validate").expect("scratch");
        assert!(!dead.exists(), "a dead process's scratch folder was kept");
        assert!(plugin_tmp.exists(), "a plugin's own tmp folder was removed");
        assert!(mine.path().exists());
        // A second sweep leaves this live process's folder alone.
        assert_eq!(sweep_dead(root.path()), 0);
        assert!(mine.path().exists());
    }
}
