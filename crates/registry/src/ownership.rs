//! Who may change a published plugin beyond publishing to it (yank or
//! restore versions, move its rollouts, submit it for approval): a token
//! whose scope names it, or a `publish:*` token that published it last
//! (`Db::may_change`). Publishing needs the plugin's pinned key; the
//! wildcard alone proves nothing of it.

use crate::db::Caller;
use crate::error::RegistryError;
use crate::server::{Shared, blocking};

/// Refuses `caller` a change to `id` other than a publish (a yank, a
/// rollout, an approval request) unless [`Db::may_change`] allows it;
/// `what` says what was refused.
pub(crate) async fn may_change(
    registry: &Shared,
    id: &str,
    caller: Caller,
    what: &str,
) -> Result<(), RegistryError> {
    let covers = caller.scope.covers(id);
    let plugin = id.to_owned();
    if blocking(registry, move |r| r.db.may_change(&plugin, &caller)).await? {
        return Ok(());
    }
    Err(RegistryError::Forbidden(if covers {
        format!(
            "this token may not {what} `{id}`: a `publish:*` token may only for a plugin it \
             published last; publish with it, or use a token with scope `publish:{id}`"
        )
    } else {
        format!("this token may not {what} `{id}`; ask for a token with scope `publish:{id}`")
    }))
}
