//! Applying a plan: every file it will change is first copied into the
//! backup folder (`.lord-template-backup/`, replacing the previous
//! backup), then each file is written in one rename or removed; if any
//! step fails, every file already touched is put back from the backup (and
//! those the update created are removed) before the error is reported.
//! `--dry-run` stops before the backup: nothing is written.

use lord_pdk::serde_json::{Value, json};

use crate::files;
use crate::plan::{Plan, Strategy, Write};
use crate::record::Record;

/// The backup folder, at the project's root.
pub(crate) const BACKUP: &str = ".lord-template-backup";

/// What applying did (or, in a dry run, would do).
pub(crate) struct Applied {
    pub(crate) plan: Plan,
    pub(crate) dry_run: bool,
    pub(crate) written: Vec<String>,
    pub(crate) removed: Vec<String>,
    /// The tag the record now names; `None` when it did not move (a dry
    /// run, or a selective update that left files behind).
    pub(crate) recorded: Option<String>,
}

/// A file's state before the update touched it.
struct Saved {
    path: String,
    /// Its bytes, or `None` when the update created it.
    before: Option<Vec<u8>>,
}

pub(crate) fn apply(plan: Plan, record: &Record, dry_run: bool) -> Result<Applied, String> {
    let touched: Vec<&crate::plan::Step> = plan
        .steps
        .iter()
        .filter(|s| s.write != Write::Nothing)
        .collect();
    let written = touched
        .iter()
        .filter(|s| matches!(s.write, Write::Bytes(_)))
        .map(|s| s.path.clone())
        .collect();
    let removed = touched
        .iter()
        .filter(|s| s.write == Write::Remove)
        .map(|s| s.path.clone())
        .collect();
    // A selective update leaves some of the step's files behind, so the
    // project does not match the new tag and the record stays.
    let moves_record = !matches!(plan.strategy, Strategy::Selective(_));
    if dry_run {
        return Ok(Applied {
            plan,
            dry_run,
            written,
            removed,
            recorded: None,
        });
    }
    let saved = back_up(&touched)?;
    for (done, step) in touched.iter().enumerate() {
        let result = match &step.write {
            Write::Bytes(bytes) => files::write(&step.path, bytes),
            Write::Remove => files::remove(&step.path),
            Write::Nothing => Ok(()),
        };
        if let Err(e) = result {
            // Each write and removal is one rename or unlink, so the step
            // that failed changed nothing: the ones before it go back.
            let restored = restore(saved.get(..done).unwrap_or(&saved));
            return Err(match restored {
                Ok(()) => format!(
                    "applying stopped at `{}`: {e}; every file it had changed was put back from \
                     `{BACKUP}`, so the project is as it was",
                    step.path
                ),
                Err(r) => format!(
                    "applying stopped at `{}`: {e}; putting files back also failed ({r}); the \
                     files as they were are in `{BACKUP}`",
                    step.path
                ),
            });
        }
    }
    let recorded = if moves_record {
        Record {
            repository: record.repository.clone(),
            version: plan.diff.to.name.clone(),
        }
        .write()?;
        Some(plan.diff.to.name.clone())
    } else {
        None
    };
    Ok(Applied {
        plan,
        dry_run,
        written,
        removed,
        recorded,
    })
}

/// Copies each file the steps will touch into a fresh backup folder.
fn back_up(steps: &[&crate::plan::Step]) -> Result<Vec<Saved>, String> {
    files::remove_tree(BACKUP)?;
    let mut saved = Vec::new();
    for step in steps {
        let before = files::read(&step.path)?;
        if let Some(bytes) = &before {
            files::write(&format!("{BACKUP}/{}", step.path), bytes)
                .map_err(|e| format!("the backup could not be made, nothing was changed: {e}"))?;
        }
        saved.push(Saved {
            path: step.path.clone(),
            before,
        });
    }
    Ok(saved)
}

/// Puts each saved file back as it was; every one is tried, and the first
/// failure reported.
fn restore(saved: &[Saved]) -> Result<(), String> {
    let mut first = None;
    for file in saved {
        let result = match &file.before {
            Some(bytes) => files::write(&file.path, bytes),
            None => files::remove(&file.path),
        };
        if let Err(e) = result {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

impl Applied {
    pub(crate) fn json(&self) -> Value {
        let mut out = self.plan.json();
        if let Some(map) = out.as_object_mut() {
            map.insert("dry_run".to_owned(), json!(self.dry_run));
            map.insert("written".to_owned(), json!(self.written));
            map.insert("removed".to_owned(), json!(self.removed));
            map.insert(
                "backup".to_owned(),
                json!((!self.dry_run).then_some(BACKUP)),
            );
            map.insert("recorded".to_owned(), json!(self.recorded));
        }
        out
    }

    pub(crate) fn text(&self) -> String {
        let mut out = self.plan.text();
        let verb = if self.dry_run { "would write" } else { "wrote" };
        out.push_str(&format!(
            "{verb} {} file(s), {} {} file(s)\n",
            self.written.len(),
            if self.dry_run {
                "would remove"
            } else {
                "removed"
            },
            self.removed.len()
        ));
        if self.dry_run {
            out.push_str("dry run: nothing was written\n");
        } else {
            out.push_str(&format!("backup of the files as they were: {BACKUP}/\n"));
        }
        match &self.recorded {
            Some(tag) => out.push_str(&format!("the project now records {tag}\n")),
            None if !self.dry_run => out.push_str(
                "the record keeps its version: a selective update leaves other files behind\n",
            ),
            None => {}
        }
        if !self.plan.conflicts().is_empty() && !self.dry_run {
            out.push_str("resolve the conflicts marked <<<<<<< / >>>>>>> in the files listed\n");
        }
        out
    }
}
