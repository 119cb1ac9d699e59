//! Schema migrations, one scheme for both backends: a `schema_migrations`
//! table records each numbered step applied (its number, name and when),
//! and opening a database applies the steps it lacks, in order, together
//! with their records in one transaction that also holds off any other
//! process opening it at the same moment.
//!
//! Step 1 is the schema as it stood before migrations existed, written
//! with `IF NOT EXISTS`, so a registry database made by an earlier release
//! is adopted as at step 1 rather than rebuilt.
//!
//! Invariant: a released step is never edited; a change to the schema is
//! a new step at the end of its backend's list.
//! Invariant: a database migrated further than this build knows is
//! refused, not used: a newer release may have changed what the columns
//! mean.

use crate::error::RegistryError;

/// One step: its number (1, 2, ... with no gaps), a name for the table
/// and the log, and the SQL that makes it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step {
    pub(super) version: i64,
    pub(super) name: &'static str,
    pub(super) sql: &'static str,
}

/// The bookkeeping table, the same on both backends.
pub(super) const TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_ms BIGINT NOT NULL
)";

/// The steps after `applied` (the highest recorded), in order; an error
/// when the database is ahead of `steps`.
pub(super) fn pending(steps: &[Step], applied: i64) -> Result<&[Step], RegistryError> {
    let known = steps.last().map_or(0, |s| s.version);
    if applied > known {
        return Err(RegistryError::Database(format!(
            "the registry database is at schema version {applied}, newer than the {known} this \
             lord knows; upgrade lord before serving it"
        )));
    }
    let done = steps.iter().take_while(|s| s.version <= applied).count();
    Ok(&steps[done..])
}

#[cfg(test)]
mod tests {
    use super::{Step, pending};

    const STEPS: [Step; 2] = [
        Step {
            version: 1,
            name: "one",
            sql: "",
        },
        Step {
            version: 2,
            name: "two",
            sql: "",
        },
    ];

    #[test]
    fn pending_steps_are_those_after_the_applied_one() {
        let names = |applied| {
            pending(&STEPS, applied)
                .map(|steps| steps.iter().map(|s| s.name).collect::<Vec<_>>())
                .map_err(|e| e.to_string())
        };
        assert_eq!(names(0), Ok(vec!["one", "two"]));
        assert_eq!(names(1), Ok(vec!["two"]));
        assert_eq!(names(2), Ok(vec![]));
        assert!(names(3).is_err_and(|e| e.contains("schema version 3")));
    }

    #[test]
    fn every_backend_numbers_its_steps_from_one_without_gaps() {
        for steps in [super::super::pg::STEPS, super::super::sqlite::STEPS] {
            for (n, step) in steps.iter().enumerate() {
                assert_eq!(step.version, n as i64 + 1, "{}", step.name);
            }
        }
    }
}
