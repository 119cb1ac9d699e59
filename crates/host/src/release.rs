//! `lord self update` and `lord self rollback`, as operations: find the
//! release of lord for this platform in a registry's signed index, fetch
//! it as any target is fetched (no further than its signed length, checked
//! against its SHA-256) and verify its signature under the user's own
//! trusted keys, as a package's, and under the one key lord's releases
//! from that registry were first verified with (pinned in the registry's
//! state folder by the first update); then replace the running binary
//! atomically (written beside it, fsynced, renamed over it), keeping the
//! previous one beside it as `NAME.previous` for a rollback.
//!
//! Invariant: a release that fails any check changes nothing; the binary
//! in place is whole at every moment, old or new.

use std::path::{Path, PathBuf};

use lord_registry_client::{Client, ReleaseInfo};

use crate::error::HostError;
use crate::framework::Framework;

/// A verified release, ready to put in place.
#[derive(Debug)]
pub struct Release {
    pub info: ReleaseInfo,
    pub bytes: Vec<u8>,
}

/// Where the binary at `exe` keeps the one it replaced.
pub fn previous_of(exe: &Path) -> PathBuf {
    let mut name = exe.file_name().unwrap_or_default().to_os_string();
    name.push(".previous");
    exe.with_file_name(name)
}

impl Framework {
    /// The newest release for `platform` newer than `running` (exactly
    /// `wanted`, when given) that the registry behind `client` lists in its
    /// signed index, downloaded and verified; `None` when there is none.
    pub async fn fetch_release(
        &self,
        client: &Client,
        platform: &str,
        running: &semver::Version,
        wanted: Option<&semver::Version>,
    ) -> Result<Option<Release>, HostError> {
        let state = self
            .home()
            .join("registries")
            .join(crate::remote::registry_dir_name(client.base()));
        let index = client.trusted_index(&state).await?;
        let Some(info) = index.release_for(platform, running, wanted).cloned() else {
            return Ok(None);
        };
        let trusted = lord_package::Keys::new(self.home()).trusted()?;
        let bytes = client
            .download_release(&index, &info, &trusted, &state)
            .await?;
        Ok(Some(Release { info, bytes }))
    }
}

/// Puts `release` in place of the binary at `exe`, keeping the one it
/// replaces at [`previous_of`]; returns that path.
pub fn install_release(exe: &Path, release: &Release) -> Result<PathBuf, HostError> {
    let previous = previous_of(exe);
    lord_file::replace_keeping(exe, &release.bytes, &previous).map_err(write_error)?;
    Ok(previous)
}

/// Puts the binary kept at [`previous_of`] back at `exe`, keeping the one
/// it replaces there, so a second rollback undoes the first.
pub fn roll_back_release(exe: &Path) -> Result<PathBuf, HostError> {
    let previous = previous_of(exe);
    if !previous.is_file() {
        return Err(HostError::NoPreviousRelease {
            exe: exe.to_path_buf(),
        });
    }
    lord_file::swap_back(exe, &previous).map_err(write_error)?;
    Ok(previous)
}

fn write_error(e: lord_file::WriteError) -> HostError {
    HostError::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    }
}
