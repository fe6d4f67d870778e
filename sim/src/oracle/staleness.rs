//! STALE: no connection created before a `PoolCleared` event is checked out after it.

use pool_core::ConnectionId;

use super::model::Model;

/// Checked at every `CheckedOut`.
pub(crate) fn on_checked_out(model: &Model, id: ConnectionId) -> Option<String> {
    let conn = model.conn(id)?;
    (conn.epoch < model.epoch).then(|| {
        format!(
            "connection {id} from before clear #{} was checked out after clear #{}",
            conn.epoch.saturating_add(1),
            model.epoch
        )
    })
}
