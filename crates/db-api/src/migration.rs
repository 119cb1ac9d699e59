//! Migration files: `NNNN_name.sql` in the project's `migrations/` folder,
//! each with an up part and a down part:
//!
//! ```sql
//! -- lord:up
//! CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
//! -- lord:down
//! DROP TABLE users;
//! ```
//!
//! The version is the number before the first `_`; the checksum is the
//! SHA-256 of the whole file, recorded when it is applied, so a file
//! changed afterwards is caught before anything runs.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::error::DbError;

const UP: &str = "-- lord:up";
const DOWN: &str = "-- lord:down";

/// A migration's name as `lord db migrate new` takes it: `a-z`, `0-9`
/// and `_`, so the file name needs no quoting anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationName(String);

impl MigrationName {
    pub fn parse(name: &str) -> Result<Self, DbError> {
        let name = name.replace('-', "_");
        let ok = !name.is_empty()
            && name.len() <= 100
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(Self(name))
        } else {
            Err(DbError::Migration(format!(
                "`{}` is not a migration name; use `a-z`, `0-9` and `_`",
                name.escape_debug()
            )))
        }
    }
}

/// The file name of migration `version` called `name`: `0003_add_users.sql`.
pub fn migration_file_name(version: u64, name: &MigrationName) -> String {
    format!("{version:04}_{}.sql", name.0)
}

/// The template `lord db migrate new` writes.
impl MigrationName {
    pub fn template(&self) -> String {
        format!(
            "{UP}\n-- the change `{}` makes; runs in a transaction where the engine allows\n\n\
             {DOWN}\n-- how to undo it\n",
            self.0
        )
    }
}

/// The checksum recorded for a migration file's bytes.
pub fn checksum(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One migration file, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    pub version: u64,
    pub name: String,
    /// Its file name, as messages name it.
    pub file: String,
    #[serde(skip)]
    pub up: String,
    #[serde(skip)]
    pub down: String,
    pub checksum: String,
}

/// Whether a migration part holds any statement: anything but blanks,
/// `;`, `--` and `#` line comments and `/* */` comments (MySQL's
/// executable `/*! */` and MariaDB's `/*M! */` are statements). A part
/// that is only comments (the template's `-- how to undo it`, left as it
/// was) is not sent: MySQL answers an empty query with an error.
pub fn holds_statements(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';');
        if rest.starts_with("/*!") || rest.starts_with("/*M!") {
            return true;
        }
        if let Some(comment) = rest.strip_prefix("--").or_else(|| rest.strip_prefix('#')) {
            rest = comment.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(comment) = rest.strip_prefix("/*") {
            match comment.split_once("*/") {
                Some((_, after)) => rest = after,
                // An unclosed comment: the engine's to judge.
                None => return true,
            }
        } else {
            return !rest.is_empty();
        }
    }
}

impl Migration {
    /// Parses the file `file` holding `bytes`; `None` for a file that is
    /// not a migration (not `.sql`, or not starting with a digit), so
    /// notes can sit beside them. A `.sql` file that starts with a digit
    /// but is not named `NNNN_name.sql` (`0003-add-index.sql`) is refused
    /// by name: skipped, it would never be applied, and no one told.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Option<Self>, DbError> {
        let Some(stem) = file.strip_suffix(".sql") else {
            return Ok(None);
        };
        if !stem.starts_with(|c: char| c.is_ascii_digit()) {
            return Ok(None);
        }
        let misnamed = || {
            DbError::Migration(format!(
                "the file `{file}` looks like a migration but is not named as one: name it \
                 `NNNN_name.sql` (a version, `_`, a name), as `lord db migrate new` does, or \
                 rename it so that it does not start with a digit"
            ))
        };
        let (version, name) = stem.split_once('_').ok_or_else(misnamed)?;
        let version = version.parse::<u64>().map_err(|_| misnamed())?;
        let text = std::str::from_utf8(bytes)
            .map_err(|_| DbError::Migration(format!("the migration `{file}` is not UTF-8 text")))?;
        let lines: Vec<&str> = text.lines().collect();
        let up_at = lines.iter().position(|l| l.trim() == UP);
        let down_at = lines.iter().position(|l| l.trim() == DOWN);
        let (Some(up_at), Some(down_at)) = (up_at, down_at) else {
            return Err(DbError::Migration(format!(
                "the migration `{file}` needs a `{UP}` line and a `{DOWN}` line"
            )));
        };
        if down_at < up_at {
            return Err(DbError::Migration(format!(
                "the migration `{file}` has its `{DOWN}` part before its `{UP}` part"
            )));
        }
        Ok(Some(Self {
            version,
            name: name.to_owned(),
            file: file.to_owned(),
            up: lines[up_at + 1..down_at].join("\n"),
            down: lines[down_at + 1..].join("\n"),
            checksum: checksum(bytes),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_splits_into_its_parts() {
        let text = "-- lord:up\nCREATE TABLE t (a int);\n-- lord:down\nDROP TABLE t;\n";
        let m = Migration::parse("0002_make_t.sql", text.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!((m.version, m.name.as_str()), (2, "make_t"));
        assert_eq!(m.up.trim(), "CREATE TABLE t (a int);");
        assert_eq!(m.down.trim(), "DROP TABLE t;");
        assert_eq!(m.checksum, checksum(text.as_bytes()));
        assert!(Migration::parse("README.md", b"x").unwrap().is_none());
        assert!(Migration::parse("0003_x.sql", b"CREATE TABLE t;").is_err());
    }

    #[test]
    fn a_part_of_comments_alone_holds_no_statement() {
        for blank in [
            "",
            "  \n",
            "-- how to undo it\n",
            "/* a\n b */ ;\n-- x",
            ";;",
            "# x\n",
        ] {
            assert!(!holds_statements(blank), "{blank:?}");
        }
        for sql in [
            "SELECT 1",
            "-- x\nDROP TABLE t;",
            "/* a */ x",
            "/* unclosed",
            "/*!50003 CREATE TRIGGER t */;",
            "-- x\n/*M!100100 SET x = 1 */",
        ] {
            assert!(holds_statements(sql), "{sql:?}");
        }
    }

    /// A file named almost as a migration is refused by name, never
    /// skipped in silence; a note beside the migrations is still a note.
    #[test]
    fn a_misnamed_migration_is_refused_and_a_note_is_not() {
        let text = b"-- lord:up\nSELECT 1;\n-- lord:down\nSELECT 1;\n";
        for file in ["0003-add-index.sql", "0003.sql", "3a_x.sql", "00x3_y.sql"] {
            let error = Migration::parse(file, text).expect_err(file).to_string();
            assert!(
                error.contains(&format!("`{file}` looks like a migration")),
                "{error}"
            );
        }
        for file in ["notes.sql", "README.md", "0003_x.txt", "seed-data.sql"] {
            assert!(
                Migration::parse(file, text).expect(file).is_none(),
                "{file}"
            );
        }
    }

    #[test]
    fn new_names_make_plain_file_names() {
        let name = MigrationName::parse("add-users").unwrap();
        assert_eq!(migration_file_name(7, &name), "0007_add_users.sql");
        assert!(MigrationName::parse("../x").is_err());
        let template = name.template();
        assert!(Migration::parse("0007_add_users.sql", template.as_bytes()).is_ok());
    }
}
