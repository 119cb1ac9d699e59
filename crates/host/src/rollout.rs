//! Staged rollouts on the client: which signed versions this machine may
//! take now, and returning from a version its rollout withdrew.
//!
//! A machine's id is this home's random installation id (`usage.rs`),
//! made once. Whether the machine is in a rollout's current ring is worked
//! out here from that id and the rollout's id
//! (`lord_registry_api::in_ring`); the registry is never told.
//!
//! Invariant: rollouts only narrow. The registry's list of rollouts is not
//! signed, so it is used to leave versions of the signed index out of a
//! resolution, and to return to a build this home already holds, never to
//! take anything the signed index does not list. A return is offered only
//! to a version the signed index still lists and has not yanked, so an
//! answer about rollouts alone cannot take a machine back to a version
//! withdrawn for cause; the CLI asks before it returns.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use lord_manifest::{PluginId, Version};
use lord_registry_client::{Client, RolloutInfo, RolloutState};

use crate::error::HostError;
use crate::framework::Framework;
use crate::install::Registration;

/// An installed version its rollout withdrew, and where to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retreat {
    pub id: PluginId,
    pub from: Version,
    pub to: Version,
    pub rollout: String,
    /// Why the rollout was rolled back or aborted.
    pub reason: String,
}

/// The newest rollout of each plugin version: the one that decides.
fn deciding(rollouts: Vec<RolloutInfo>) -> BTreeMap<(String, String), RolloutInfo> {
    let mut newest: BTreeMap<(String, String), RolloutInfo> = BTreeMap::new();
    for rollout in rollouts {
        let key = (rollout.plugin.clone(), rollout.version.clone());
        match newest.get(&key) {
            Some(seen) if (seen.started_ms, &seen.id) >= (rollout.started_ms, &rollout.id) => {}
            Some(_) | None => {
                newest.insert(key, rollout);
            }
        }
    }
    newest
}

/// The plugin versions this machine must not take now: those whose
/// rollout is in progress in a ring it is not in, and those rolled back
/// or aborted.
pub(crate) async fn withheld(
    home: &Path,
    client: &Client,
) -> Result<BTreeSet<(String, String)>, HostError> {
    let rollouts = deciding(client.rollouts(None).await?);
    // The id is made only when a ring asks for it: a home that never met a
    // rollout in progress gets no id file for it.
    let machine = if rollouts
        .values()
        .any(|r| r.state == RolloutState::InProgress)
    {
        crate::usage::installation_id(home)?
    } else {
        String::new()
    };
    Ok(rollouts
        .into_iter()
        .filter(|(_, rollout)| !rollout.admits(&machine))
        .map(|(key, _)| key)
        .collect())
}

impl Framework {
    /// This machine's id, as rollouts place it in their rings: the random
    /// installation id of this home, made on first use.
    pub fn machine_id(&self) -> Result<String, HostError> {
        crate::usage::installation_id(self.home())
    }

    /// The installed plugins (or only `only`) whose version a rollout
    /// withdrew, with the version to return to: one the signed index lists
    /// and has not yanked (a rollout naming any other is passed over).
    pub async fn retreats(
        &self,
        client: &Client,
        only: Option<&PluginId>,
    ) -> Result<Vec<Retreat>, HostError> {
        let installed = self.store().list()?;
        if installed.is_empty() {
            return Ok(Vec::new());
        }
        let rollouts = deciding(client.rollouts(only.map(PluginId::as_str)).await?);
        let mut out = Vec::new();
        for plugin in installed {
            if only.is_some_and(|o| o != plugin.id()) {
                continue;
            }
            let from = plugin.manifest.plugin.version.clone();
            let key = (plugin.id().to_string(), from.to_string());
            let Some(rollout) = rollouts.get(&key) else {
                continue;
            };
            let Some(to) = rollout.previous.as_deref().and_then(|p| p.parse().ok()) else {
                continue;
            };
            if rollout.state.withdrawn() {
                out.push(Retreat {
                    id: plugin.id().clone(),
                    from,
                    to,
                    rollout: rollout.id.clone(),
                    reason: rollout.reason.clone().unwrap_or_default(),
                });
            }
        }
        if out.is_empty() {
            return Ok(out);
        }
        // The list of rollouts is not signed: the version to return to must
        // be one the signed index still offers.
        let state = self
            .home()
            .join("registries")
            .join(crate::remote::registry_dir_name(client.base()));
        let mut reader = client.plugin_index(&state).await?;
        let mut signed = Vec::new();
        for retreat in out {
            let to = retreat.to.to_string();
            let listed = reader.versions(retreat.id.as_str()).await?;
            if listed.iter().any(|t| t.version == to && !t.yanked) {
                signed.push(retreat);
            }
        }
        Ok(signed)
    }

    /// Returns to the version `retreat` names through the rollback every
    /// update keeps possible: only when the build kept for rollback is
    /// that version (otherwise the user is told what to run).
    pub async fn retreat(&mut self, retreat: &Retreat) -> Result<Registration, HostError> {
        let kept = self.store().previous_versions(&retreat.id)?;
        if kept.first().map(String::as_str) != Some(retreat.to.to_string().as_str()) {
            return Err(HostError::Resolve(format!(
                "rollout {} withdrew {} {}, but this machine keeps no build of {} to return to; \
                 run `lord plugin remove {}` and `lord plugin install {}@={}`",
                retreat.rollout,
                retreat.id,
                retreat.from,
                retreat.to,
                retreat.id,
                retreat.id,
                retreat.to
            )));
        }
        self.rollback(&retreat.id).await
    }
}

#[cfg(test)]
mod tests {
    use lord_registry_client::{Gate, Health, RolloutInfo, RolloutState};

    fn rollout(id: &str, version: &str, started_ms: i64, state: RolloutState) -> RolloutInfo {
        RolloutInfo {
            id: id.to_owned(),
            plugin: "tally".to_owned(),
            version: version.to_owned(),
            previous: Some("1.0.0".to_owned()),
            rings: vec![5, 100],
            ring: 0,
            gate: Gate::default(),
            state,
            reason: None,
            ring_start_runs: 0,
            started_ms,
            updated_ms: started_ms,
            canary: Health::default(),
            baseline: Health::default(),
        }
    }

    /// A version's newest rollout decides for it: a rollout started again
    /// after one was aborted, and then completed, admits the version.
    #[test]
    fn the_newest_rollout_of_a_version_decides() {
        let decided = super::deciding(vec![
            rollout("tally-1.1.0-2", "1.1.0", 20, RolloutState::Complete),
            rollout("tally-1.1.0-1", "1.1.0", 10, RolloutState::Aborted),
            rollout("tally-1.2.0-1", "1.2.0", 30, RolloutState::RolledBack),
        ]);
        let of = |v: &str| &decided[&("tally".to_owned(), v.to_owned())];
        assert_eq!(of("1.1.0").id, "tally-1.1.0-2");
        assert!(of("1.1.0").admits("any machine"));
        assert!(!of("1.2.0").admits("any machine"));
        // The other order gives the same answer.
        let again = super::deciding(vec![
            rollout("tally-1.1.0-1", "1.1.0", 10, RolloutState::Aborted),
            rollout("tally-1.1.0-2", "1.1.0", 20, RolloutState::Complete),
        ]);
        assert_eq!(
            again[&("tally".to_owned(), "1.1.0".to_owned())].id,
            "tally-1.1.0-2"
        );
    }
}
