//! `lord pdk record`: learns the smallest permission list a plugin needs by
//! running it with everything denied and writing down each refusal.
//!
//! A component that imports a host interface must be granted something of
//! that family to load at all, so each imported family gets a placeholder
//! grant that matches nothing real (`state-shared(lord-pdk-record.none)`):
//! the plugin loads, and every real access it tries is refused and logged
//! with the exact permission it needed. A plugin usually stops at its first
//! refusal, so recording goes in rounds: each round grants what earlier
//! rounds proposed, until a round is refused nothing new.
//!
//! What the host cannot see is said plainly: with no grant there is no
//! preopened folder or variable to refuse, so file and environment reads
//! leave no trace; those permissions must be added by hand.

use std::path::Path;

use lord_host::TestCase;
use lord_manifest::{Manifest, Permission, PermissionFamily};
use serde::Serialize;

use crate::DevkitError;
use crate::harness::Harness;

/// Rounds before recording gives up on a plugin that keeps asking.
const MAX_ROUNDS: usize = 8;

/// One round: what it granted and what was refused.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub granted: Vec<String>,
    /// Each refusal: what was tried, and the permission it needed.
    pub refused: Vec<(String, Option<String>)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Recording {
    /// The permissions the runs needed, in manifest syntax, sorted.
    pub proposed: Vec<String>,
    /// In the proposal but not requested by plugin.toml.
    pub missing: Vec<String>,
    /// Requested by plugin.toml but never needed in these runs.
    pub unused: Vec<String>,
    /// Refusals no permission can lift (e.g. publishing at `system` level).
    pub unliftable: Vec<String>,
    pub rounds: Vec<Round>,
    /// The calls made each round.
    pub calls: Vec<String>,
}

impl Recording {
    /// The `[permissions]` table to paste into plugin.toml.
    pub fn toml(&self) -> String {
        let quoted: Vec<String> = self.proposed.iter().map(|p| format!("\"{p}\"")).collect();
        format!("[permissions]\nrequest = [{}]\n", quoted.join(", "))
    }
}

/// A grant of `family` that matches nothing a plugin could really use (the
/// permission table's placeholder).
fn placeholder(family: PermissionFamily) -> Option<Permission> {
    family.meaning().record_placeholder?.parse().ok()
}

/// Records the plugin at `dir` (built) through `calls` (default: its
/// declared cases, or one plain call per command and micro-plugin).
pub async fn record(
    dir: &Path,
    scratch: &Path,
    calls: Vec<TestCase>,
    imports: &[String],
    progress: &mut dyn FnMut(&str),
) -> Result<Recording, DevkitError> {
    let manifest = crate::read_built(dir)?;

    // A copy whose manifest requests the placeholders (and, as rounds go,
    // what was proposed), so the author's folder is never written.
    std::fs::create_dir_all(scratch).map_err(DevkitError::io("create", scratch))?;
    let copy = lord_host::scratch_dir(scratch, "lord-pdk-record")
        .map_err(DevkitError::io("create a folder in", scratch))?;
    let component = dir.join(&manifest.plugin.component);
    let copied = copy.path().join(&manifest.plugin.component);
    if let Some(parent) = copied.parent() {
        std::fs::create_dir_all(parent).map_err(DevkitError::io("create", parent))?;
    }
    std::fs::copy(&component, &copied).map_err(DevkitError::io("copy", &component))?;

    let mut placeholders: Vec<Permission> = Vec::new();
    for import in imports {
        let path = import.split('@').next().unwrap_or(import);
        if let lord_sandbox::ImportUse::Needs(family) = lord_sandbox::import_use(path)
            && let Some(p) = placeholder(family)
            && !placeholders.contains(&p)
        {
            placeholders.push(p);
        }
    }

    let mut proposed: Vec<Permission> = Vec::new();
    let mut unliftable: Vec<String> = Vec::new();
    let mut rounds = Vec::new();
    let mut call_names = Vec::new();
    for round in 1..=MAX_ROUNDS {
        let mut granted = placeholders.clone();
        granted.extend(proposed.iter().cloned());
        write_manifest(copy.path(), &manifest, &granted)?;
        progress(&format!(
            "round {round}: granting {}",
            if proposed.is_empty() {
                "nothing".to_owned()
            } else {
                list(&proposed)
            }
        ));
        let mut harness = Harness::open(copy.path(), scratch)?;
        placeholder_secrets(&mut harness, &proposed)?;
        harness.install_with(&granted).await?;
        let cases = if calls.is_empty() {
            default_calls(&harness)
        } else {
            calls.clone()
        };
        if call_names.is_empty() {
            call_names = cases.iter().map(describe).collect();
        }
        let mut refused: Vec<(String, Option<String>)> = Vec::new();
        for case in &cases {
            let probe = harness.call(case).await?;
            for denial in probe.denials {
                if !refused.iter().any(|(a, _)| *a == denial.access) {
                    refused.push((denial.access, denial.needs));
                }
            }
        }
        let mut new = Vec::new();
        for (access, needs) in &refused {
            match needs.as_deref().map(str::parse::<Permission>) {
                Some(Ok(p)) if !proposed.contains(&p) && !new.contains(&p) => new.push(p),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    if !unliftable.contains(access) {
                        unliftable.push(access.clone());
                    }
                }
            }
        }
        rounds.push(Round {
            granted: granted.iter().map(ToString::to_string).collect(),
            refused,
        });
        if new.is_empty() {
            break;
        }
        proposed.extend(new);
    }
    proposed.sort();
    let requested = &manifest.permissions;
    Ok(Recording {
        missing: proposed
            .iter()
            .filter(|p| !requested.contains(p))
            .map(ToString::to_string)
            .collect(),
        unused: requested
            .iter()
            .filter(|p| !proposed.contains(p) && visible(p))
            .map(ToString::to_string)
            .collect(),
        proposed: proposed.iter().map(ToString::to_string).collect(),
        unliftable,
        rounds,
        calls: call_names,
    })
}

/// Whether recording could have seen a use of `p` at all.
fn visible(p: &Permission) -> bool {
    placeholder(p.family()).is_some()
}

fn list(permissions: &[Permission]) -> String {
    permissions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(case: &TestCase) -> String {
    match case.target() {
        lord_host::Target::Command(command) => {
            let values: Vec<&str> = case.args.values().flatten().map(String::as_str).collect();
            format!("lord {command} {}", values.join(" "))
                .trim_end()
                .to_owned()
        }
        lord_host::Target::Micro(id) => format!("micro-plugin {id}"),
    }
}

/// The declared cases, or one plain call per command and micro-plugin.
fn default_calls(harness: &Harness) -> Vec<TestCase> {
    let declared: Vec<TestCase> = harness.cases().to_vec();
    if !declared.is_empty() {
        return declared;
    }
    harness
        .targets()
        .iter()
        .map(|t| t.case_with(&["sample"], false))
        .collect()
}

fn write_manifest(
    dir: &Path,
    manifest: &Manifest,
    requested: &[Permission],
) -> Result<(), DevkitError> {
    let mut copy = manifest.clone();
    copy.permissions = requested.to_vec();
    let text = copy
        .to_toml_string()
        .map_err(|e| DevkitError::Usage(format!("the manifest cannot be written back: {e}")))?;
    let path = dir.join(lord_manifest::MANIFEST_FILE);
    std::fs::write(&path, text).map_err(DevkitError::io("write", &path))
}

/// A value for each secret `proposed` grants, so the plugin gets past it;
/// one that cannot be stored would read as the plugin needing more.
fn placeholder_secrets(harness: &mut Harness, proposed: &[Permission]) -> Result<(), DevkitError> {
    for p in proposed {
        if let Permission::Secret(name) = p {
            harness
                .framework()
                .channels()
                .secrets
                .set(
                    name,
                    lord_state::SecretValue::new(format!("lord-pdk-record placeholder for {name}")),
                )
                .map_err(lord_host::HostError::from)?;
        }
    }
    Ok(())
}

/// Writes the proposal into `dir`'s plugin.toml, keeping its comments and
/// layout: `request` becomes the proposal plus what recording cannot see
/// (file, environment, terminal, subscriptions, ...) that it already
/// asked for; reasons of dropped permissions go too. The new text must
/// parse before it replaces the old, in one rename. Returns the new list.
pub fn write_proposal(dir: &Path, recording: &Recording) -> Result<Vec<String>, DevkitError> {
    let path = dir.join(lord_manifest::MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).map_err(DevkitError::io("read", &path))?;
    let manifest = lord_manifest::parse(&path.display().to_string(), &text)
        .map_err(|e| DevkitError::Host(e.into()))?;
    let mut keep: Vec<String> = recording.proposed.clone();
    for p in &manifest.permissions {
        let text = p.to_string();
        if !visible(p) && !keep.contains(&text) {
            keep.push(text);
        }
    }
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| DevkitError::Usage(format!("plugin.toml cannot be edited: {e}")))?;
    let section = doc
        .entry("permissions")
        .or_insert_with(toml_edit::table)
        .as_table_like_mut()
        .ok_or_else(|| {
            DevkitError::Usage("[permissions] in plugin.toml is not a table".to_owned())
        })?;
    let mut request = toml_edit::Array::new();
    for p in &keep {
        request.push(p.as_str());
    }
    section.insert("request", toml_edit::value(request));
    if let Some(reasons) = section
        .get_mut("reasons")
        .and_then(toml_edit::Item::as_table_like_mut)
    {
        let dropped: Vec<String> = reasons
            .iter()
            .map(|(k, _)| k.to_owned())
            .filter(|k| !keep.contains(k))
            .collect();
        for key in dropped {
            reasons.remove(&key);
        }
    }
    let edited = doc.to_string();
    lord_manifest::parse(&path.display().to_string(), &edited).map_err(|e| {
        DevkitError::Usage(format!("the edited plugin.toml would not be valid: {e}"))
    })?;
    lord_file::write_atomic(&path, edited.as_bytes())?;
    Ok(keep)
}

/// Turns `note "some text"`-style words into a command case, giving the
/// words after the command to the manifest's arguments in order (the last
/// `multiple` argument takes the rest).
pub fn command_case(manifest: &Manifest, words: &[String]) -> Result<TestCase, DevkitError> {
    let Some((command, values)) = words.split_first() else {
        return Err(DevkitError::Usage("an empty --run".to_owned()));
    };
    let spec = manifest
        .commands
        .iter()
        .find(|c| c.name.as_str() == command)
        .ok_or_else(|| {
            DevkitError::Usage(format!("plugin.toml declares no command `{command}`"))
        })?;
    let mut args = std::collections::BTreeMap::new();
    // Switches are words of their own (`--json`) wherever they stand.
    let mut positional = Vec::new();
    for word in values {
        let switch = word
            .strip_prefix("--")
            .and_then(|name| spec.args.iter().find(|a| a.flag && a.name.as_str() == name));
        match switch {
            Some(arg) => {
                args.insert(arg.name.as_str().to_owned(), vec!["true".to_owned()]);
            }
            None => positional.push(word.clone()),
        }
    }
    let mut rest = positional.iter();
    for arg in spec.args.iter().filter(|a| !a.flag) {
        let taken: Vec<String> = if arg.multiple {
            rest.by_ref().cloned().collect()
        } else {
            rest.next().cloned().into_iter().collect()
        };
        if !taken.is_empty() {
            args.insert(arg.name.as_str().to_owned(), taken);
        }
    }
    // A word no argument takes would be dropped unseen, and the run
    // recorded with other input than the user meant.
    if let Some(extra) = rest.next() {
        return Err(DevkitError::Usage(format!(
            "`{command}` takes no argument for `{extra}`; quote an argument that has spaces \
             (`--run '{command} \"two words\"'`)"
        )));
    }
    Ok(TestCase::command("recorded", command, args))
}
