//! MAX: never more than `maxPoolSize` connections, never more than `maxConnecting`
//! establishing, by the pool's events and by the connections the manager actually holds.

use super::model::Model;
use super::OracleConfig;

/// Checked at every `ConnectionCreated` (allowing `event_lag` for events that trail the
/// pool's state).
pub(crate) fn on_created(model: &Model, config: &OracleConfig) -> Option<String> {
    let lag = config.event_lag;
    if model.total() > config.max_total.saturating_add(lag) {
        return Some(
            format!(
                "{} connections exist (pending {}, available {}, validating {}, in use {}) but \
             maxPoolSize is {}",
                model.total(),
                model.pending,
                model.available,
                model.validating,
                model.in_use,
                config.max_total
            ) + &allowance(lag),
        );
    }
    if model.pending > config.max_connecting.saturating_add(lag) {
        return Some(
            format!(
                "{} connections are establishing but maxConnecting is {}",
                model.pending, config.max_connecting
            ) + &allowance(lag),
        );
    }
    None
}

/// Checked at every `CheckedOut` when creation is judged with an `event_lag`: the
/// connections in use are still bounded exactly, since a pool reports `CheckedOut` after
/// a hand-out and `CheckedIn` before the connection goes back, so its events never count
/// more in use than there are. (Without a lag the bound on the total implies this one.)
pub(crate) fn on_checked_out(model: &Model, config: &OracleConfig) -> Option<String> {
    (config.event_lag > 0 && model.in_use > config.max_total).then(|| {
        format!(
            "{} connections are checked out but maxPoolSize is {}",
            model.in_use, config.max_total
        )
    })
}

fn allowance(lag: u32) -> String {
    if lag == 0 {
        String::new()
    } else {
        format!(" (+{lag} allowed for events trailing the pool's state)")
    }
}

/// Checked at stable points: what the manager holds, whatever the events say.
pub(crate) fn manager_view(model: &Model, config: &OracleConfig) -> Option<String> {
    let connecting = model.connecting.len() as u64;
    let held = (model.live.len() as u64).saturating_add(connecting);
    if held > u64::from(config.max_total) {
        return Some(format!(
            "the manager holds {held} connections ({connecting} connecting) but maxPoolSize is {}",
            config.max_total
        ));
    }
    if connecting > u64::from(config.max_connecting) {
        return Some(format!(
            "{connecting} connects are in flight but maxConnecting is {}",
            config.max_connecting
        ));
    }
    None
}
