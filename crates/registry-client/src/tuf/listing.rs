//! Listing targets through the delegation graph: one folder's (a
//! plugin's versions, from the bins whose delegations cover it) or every
//! role's (what needs the whole index), each target kept from the role a
//! search for that target alone would take it from.

use std::collections::{BTreeMap, BTreeSet};

use super::{MAX_DELEGATIONS, TargetFile, TufError, Updater, metadata};

/// How many delegated roles one listing of the whole index may visit (a
/// registry's bins, with room to spare).
const MAX_ROLES_LISTED: usize = 4096;

impl Updater {
    /// Every target in the folder `folder` (such as `plugins/ID/`) as the
    /// delegation graph assigns them, loading only the roles whose
    /// delegations cover that folder: the search of [`Self::target`] run
    /// for a path in the folder, keeping every target of the folder that a
    /// role it visits lists and that every delegation leading there covers
    /// (the first role in search order wins, as it would for that target
    /// alone). This is how one plugin's versions are read from a
    /// repository that bins its targets by plugin (`paths` patterns such as
    /// `plugins/ID/*`) without fetching any other bin.
    pub async fn targets_in(
        &mut self,
        folder: &str,
    ) -> Result<BTreeMap<String, TargetFile>, TufError> {
        let folder = if folder.ends_with('/') {
            folder.to_owned()
        } else {
            format!("{folder}/")
        };
        self.collect(&folder, false).await
    }

    /// Every target of every role the delegation graph reaches from the
    /// top-level targets role (up to 32 roles), each kept from the first
    /// role in search order that lists it and that every delegation
    /// leading there covers: what needs the whole index reads this.
    pub async fn all_targets(&mut self) -> Result<BTreeMap<String, TargetFile>, TufError> {
        self.collect("", true).await
    }

    /// The targets named `folder...` in the roles the search reaches,
    /// following every delegation when `all`, else those that cover the
    /// folder.
    async fn collect(
        &mut self,
        folder: &str,
        all: bool,
    ) -> Result<BTreeMap<String, TargetFile>, TufError> {
        if !self.refreshed {
            self.refresh().await?;
        }
        // A name no target has: it stands for "some file in the folder"
        // when choosing which delegations to follow.
        let probe = format!("{folder}\u{1}");
        let mut found = BTreeMap::new();
        let mut stack = vec![Visit {
            role: "targets".to_owned(),
            delegator: "root".to_owned(),
            chain: Vec::new(),
            hidden: Vec::new(),
        }];
        let mut visited = BTreeSet::new();
        let limit = if all {
            MAX_ROLES_LISTED
        } else {
            MAX_DELEGATIONS
        };
        while visited.len() < limit
            && let Some(visit) = stack.pop()
        {
            if visited.contains(&visit.role) {
                continue;
            }
            self.load_targets(&visit.role, &visit.delegator).await?;
            let Some(targets) = self.targets.get(&visit.role) else {
                break;
            };
            for (name, file) in targets.signed.targets.range(folder.to_owned()..) {
                if !name.starts_with(folder) {
                    break;
                }
                if !found.contains_key(name) && visit.assigns(name) {
                    found.insert(name.clone(), file.clone());
                }
            }
            let mut children: Vec<Visit> = Vec::new();
            // Terminating siblings searched before the next child.
            let mut hidden = visit.hidden.clone();
            for child in targets
                .signed
                .delegations
                .iter()
                .flat_map(|d| &d.roles)
                // A role binned by the hash of each full path may hold
                // any file of the folder, so it is followed too.
                .filter(|d| all || d.path_hash_prefixes.is_some() || d.covers(&probe))
            {
                let mut chain = visit.chain.clone();
                chain.push(child.clone());
                children.push(Visit {
                    role: child.name.clone(),
                    delegator: visit.role.clone(),
                    chain: chain.clone(),
                    hidden: hidden.clone(),
                });
                if child.terminating {
                    if !all {
                        stack.clear();
                        break;
                    }
                    // What it covers is its subtree's alone: every role
                    // searched after it may not list those paths.
                    for later in &mut stack {
                        later.hidden.push(chain.clone());
                    }
                    hidden.push(chain);
                }
            }
            visited.insert(visit.role);
            stack.extend(children.into_iter().rev());
        }
        Ok(found)
    }
}

/// A role to visit in a listing search: how it was reached, and the
/// delegation chains of terminating delegations searched before it, whose
/// paths it may not list.
struct Visit {
    role: String,
    delegator: String,
    chain: Vec<metadata::DelegatedRole>,
    hidden: Vec<Vec<metadata::DelegatedRole>>,
}

impl Visit {
    /// Whether the search for `name` alone would take it from this role:
    /// every delegation that led here covers it, and no terminating one
    /// searched before claims it.
    fn assigns(&self, name: &str) -> bool {
        self.chain.iter().all(|d| d.covers(name))
            && !self
                .hidden
                .iter()
                .any(|chain| chain.iter().all(|d| d.covers(name)))
    }
}
