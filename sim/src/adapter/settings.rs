//! [`PoolSettings`]: the seed's [`PoolOptions`] as the settings a pool usually has.
//!
//! Each seed draws CMAP options ([`PoolOptions`]); an adapter maps them onto its pool's
//! own knobs. The fields below are what most pools have, named as they usually are:
//!
//! | field | from | if the pool lacks it |
//! |---|---|---|
//! | `max_size` | [`PoolOptions::total_max`] (`maxPoolSize`, 0 = unlimited) | the pool cannot be judged: every oracle assumes a bound |
//! | `min_size` | `minPoolSize` | leave it unset (no background fill) |
//! | `max_connecting` | `maxConnecting` | declare `Capabilities::max_connecting = false` |
//! | `idle_timeout` | `maxIdleTime` | leave it off |
//! | `max_lifetime` | `maxLifetime` | leave it off |
//! | `connect_timeout` | `connectTimeout` | nothing to do: [`Connector`](super::Connector) enforces it |
//! | `wait_queue_timeout` | `waitQueueTimeout` | nothing to do: [`checkout`](super::checkout()) enforces it |
//!
//! Turn off a pool's own timer that reads the wall clock (`std::time::Instant`): the
//! simulation cannot move it, so it would either never fire or make runs depend on the
//! machine. A setting left off is a feature not judged, never a failure.

use std::time::Duration;

use pool_core::PoolOptions;

use super::error::AdapterError;

/// The seed's options, validated and named as pools name them. See the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Cap on connections (pending + idle + in use).
    pub max_size: u32,
    /// Connections the pool should keep (0: none).
    pub min_size: u32,
    /// Cap on connections establishing at once.
    pub max_connecting: u32,
    /// Close a connection idle for longer than this.
    pub idle_timeout: Option<Duration>,
    /// Close a connection older than this.
    pub max_lifetime: Option<Duration>,
    /// Bound on one connect (enforced by [`Connector`](super::Connector)).
    pub connect_timeout: Option<Duration>,
    /// Bound on a checkout's wait (enforced by [`checkout`](super::checkout())).
    pub wait_queue_timeout: Option<Duration>,
}

impl PoolSettings {
    /// Validates `options` and maps them.
    ///
    /// # Errors
    /// [`AdapterError::Options`] if `options` break a CMAP rule.
    pub fn from_options(options: &PoolOptions) -> Result<PoolSettings, AdapterError> {
        options
            .validate()
            .map_err(|e| AdapterError::Options(e.to_string()))?;
        Ok(PoolSettings {
            max_size: options.total_max(),
            min_size: options.min_pool_size,
            max_connecting: options.max_connecting,
            idle_timeout: options.max_idle_time,
            max_lifetime: options.max_lifetime,
            connect_timeout: options.connect_timeout,
            wait_queue_timeout: options.wait_queue_timeout,
        })
    }

    /// `min_size` as an optional minimum (`None` when 0), as pools with a `min_idle`
    /// setting take it.
    pub fn min_idle(&self) -> Option<u32> {
        (self.min_size > 0).then_some(self.min_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_total_max_and_rejects_invalid_options() {
        let options = PoolOptions {
            max_pool_size: 0,
            min_pool_size: 2,
            ..PoolOptions::default()
        };
        let settings = PoolSettings::from_options(&options).expect("valid");
        assert_eq!(settings.max_size, options.total_max());
        assert_eq!(settings.min_idle(), Some(2));
        let invalid = PoolOptions {
            max_connecting: 0,
            ..PoolOptions::default()
        };
        assert!(matches!(
            PoolSettings::from_options(&invalid),
            Err(AdapterError::Options(_))
        ));
    }
}
