//! Running plugin code through the façade: a command in a fresh instance
//! (`run_command`), an instance an embedder keeps (`load`, then
//! `after_command` for what its commands published), and a micro
//! handler's instance (`micro_instance`). Each asks the policies' `run`
//! before any plugin code runs.

use lord_manifest::PluginId;
use lord_policy::Action;
use lord_sandbox::{CommandArg, PluginInstance};

use super::Framework;
use crate::dispatch::{CommandOutcome, Dispatch};
use crate::error::HostError;
use crate::governance::installed_facts;
use crate::runtime::Runtime;

impl Framework {
    /// Runs the plugin command `command` with parsed arguments, in a fresh
    /// instance: nothing a call leaves in its instance reaches the next.
    pub async fn run_command(
        &mut self,
        command: &str,
        args: Vec<CommandArg>,
    ) -> Result<CommandOutcome, HostError> {
        let owner = match self.owner.take().filter(|(name, _)| name == command) {
            Some((_, owner)) => owner,
            None => (self.store.command_plugin(command)?)
                .ok_or_else(|| HostError::UnknownCommand(command.to_owned()))?,
        };
        let (governance, store) = self.governed_store();
        governance.govern(
            store,
            Action::Run,
            || installed_facts(&owner),
            None,
            Some(command.into()),
        )?;
        let dispatch = Dispatch {
            lifecycle: &self.lifecycle,
            delivery: &self.delivery,
            rt: Runtime::new(&self.settings, &self.channels, &self.loader),
        };
        (dispatch.run_command(&mut self.store, command, args, Some(owner))).await
    }

    /// An instance of the installed plugin `id` to keep and call
    /// repeatedly: enabled first if it never was, subscribers listening,
    /// its on-load hook run. Unlike [`Framework::run_command`], what one
    /// call leaves in the instance (its memory, its globals) the next call
    /// sees; a call that fails other than by returning an error poisons it.
    /// Call [`Framework::after_command`] when a command's events should be
    /// delivered.
    pub async fn load(&mut self, id: &PluginId) -> Result<PluginInstance, HostError> {
        // Asked before anything runs: a first use enables the plugin, and
        // that runs its hooks.
        let installed = self.store.require(id)?;
        let (governance, store) = self.governed_store();
        governance.govern(
            store,
            Action::Run,
            || installed_facts(&installed),
            None,
            None,
        )?;
        let dispatch = Dispatch {
            lifecycle: &self.lifecycle,
            delivery: &self.delivery,
            rt: Runtime::new(&self.settings, &self.channels, &self.loader),
        };
        let plugin = dispatch.ready(&mut self.store, id).await?;
        self.lifecycle
            .load_decided(dispatch.rt, &mut self.store, &plugin)
            .await
    }

    /// Tells subscribers that `command` of `id` ran on a kept instance
    /// (`lord.command.finished`) and delivers what it published.
    pub async fn after_command(&mut self, id: &PluginId, command: &str, ok: bool) {
        let dispatch = Dispatch {
            lifecycle: &self.lifecycle,
            delivery: &self.delivery,
            rt: Runtime::new(&self.settings, &self.channels, &self.loader),
        };
        dispatch
            .finished(&mut self.store, id, command, ok, None)
            .await;
    }

    /// An instance serving the micro handler `micro` of the installed
    /// plugin `id`, under the grants its isolation allows.
    pub async fn micro_instance(
        &self,
        id: &PluginId,
        micro: &lord_manifest::MicroId,
    ) -> Result<crate::micro::HandlerInstance, HostError> {
        let plugin = self.store.require(id)?;
        // As a pipeline's manager holds only enabled plugins and asks the
        // policies for each call.
        self.lifecycle.may_run(&plugin)?;
        if let Some(policy) = self.governance().step_policy(&plugin)? {
            policy.admit_call()?;
        }
        crate::micro::instance_for(self.runtime(), &self.store, &plugin, micro).await
    }
}
