//! MAX: never more than `maxPoolSize` connections, never more than `maxConnecting`
//! establishing, by the pool's events and by the connections the manager actually holds.

use super::model::Model;
use super::OracleConfig;

/// Checked at every `ConnectionCreated`.
pub(crate) fn on_created(model: &Model, config: &OracleConfig) -> Option<String> {
    if model.total() > config.max_total {
        return Some(format!(
            "{} connections exist (pending {}, available {}, validating {}, in use {}) but \
             maxPoolSize is {}",
            model.total(),
            model.pending,
            model.available,
            model.validating,
            model.in_use,
            config.max_total
        ));
    }
    if model.pending > config.max_connecting {
        return Some(format!(
            "{} connections are establishing but maxConnecting is {}",
            model.pending, config.max_connecting
        ));
    }
    None
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
