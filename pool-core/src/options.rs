//! Pool options: CMAP's names and defaults, plus the bounds users of other pools expect.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::OptionsError;
use crate::limits;

/// Options for a [`Pool`](crate::Pool). They deserialize from the CMAP spelling
/// (`maxPoolSize`, `waitQueueTimeoutMS`, …), with durations in milliseconds.
///
/// A duration of `None` (or `0` in the serialized form) means "no limit", as in CMAP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct PoolOptions {
    /// Cap on pending + available + in-use connections; 0 means unlimited
    /// (up to [`limits::CONNECTIONS_MAX`]). Default 100.
    pub max_pool_size: u32,
    /// The pool keeps at least this many connections while it is ready. Default 0.
    pub min_pool_size: u32,
    /// Cap on connections establishing at once. Must be > 0. Default 2.
    pub max_connecting: u32,
    /// How long a checkout may wait for a connection or an establishing slot.
    /// `None` waits forever (the default).
    #[serde(rename = "waitQueueTimeoutMS", with = "millis")]
    pub wait_queue_timeout: Option<Duration>,
    /// An available connection idle for longer than this is closed (reason `idle`).
    #[serde(rename = "maxIdleTimeMS", with = "millis")]
    pub max_idle_time: Option<Duration>,
    /// A connection older than this (minus its jitter) is closed instead of reused.
    /// Not part of CMAP; closes carry reason `expired`.
    #[serde(rename = "maxLifetimeMS", with = "millis")]
    pub max_lifetime: Option<Duration>,
    /// Each connection's lifetime is shortened by a deterministic amount in
    /// `[0, max_lifetime_jitter)`, so connections made together do not expire together.
    #[serde(rename = "maxLifetimeJitterMS", with = "millis")]
    pub max_lifetime_jitter: Option<Duration>,
    /// Bound on establishing one connection; `None` leaves it to the manager.
    #[serde(rename = "connectTimeoutMS", with = "millis")]
    pub connect_timeout: Option<Duration>,
    /// Gap between background maintenance runs (CMAP's `backgroundThreadIntervalMS`).
    /// `None` disables the background task. Default 1 s.
    #[serde(rename = "backgroundThreadIntervalMS", with = "millis")]
    pub maintenance_interval: Option<Duration>,
    /// How long a grant may wait for its checkout to claim it. A checkout that was
    /// handed a connection (or a permit to create one) but is not polled again within
    /// this time (a task stalled elsewhere, a future kept but never awaited) loses it:
    /// the pool takes it back for the next waiter, and the checkout, if ever polled
    /// again, queues anew under its original deadline. Not part of CMAP. `None` keeps
    /// grants for ever. Default 1 s.
    #[serde(rename = "claimTimeoutMS", with = "millis")]
    pub claim_timeout: Option<Duration>,
    /// Bound on queued checkouts; a checkout beyond it fails at once with
    /// [`CheckoutError::WaitQueueFull`](crate::CheckoutError::WaitQueueFull).
    /// Default [`limits::WAITERS_MAX_DEFAULT`].
    pub waiters_max: u32,
    /// A connection checked out for longer than this is reported as a possible leak (an
    /// event and a `tracing` warning with the backtrace of its checkout), and again when
    /// it comes back. Not part of CMAP (HikariCP's `leakDetectionThreshold`). `None`, the
    /// default, turns it off and costs nothing.
    #[serde(rename = "leakDetectionThresholdMS", with = "millis")]
    pub leak_detection_threshold: Option<Duration>,
    /// Test-on-borrow: a checkout handed a connection that sat available for longer than
    /// [`validation_bypass`](PoolOptions::validation_bypass) has the manager
    /// [`validate`](crate::Manager::validate) it first; one that fails is closed (reason
    /// `error`) and the checkout goes on, within its `wait_queue_timeout`. A connection
    /// the checkout established itself is never validated. Not part of CMAP (HikariCP's
    /// connection test on borrow, bb8's `test_on_check_out`). Default `false`, which
    /// costs one branch per checkout.
    #[serde(rename = "testOnBorrow")]
    pub test_on_borrow: bool,
    /// With `test_on_borrow`, a connection available for at most this long is handed out
    /// without validation; zero validates every connection taken from the pool. HikariCP's
    /// `aliveBypassWindowMs`. Default 500 ms.
    #[serde(rename = "validationBypassMS", with = "millis_or_zero")]
    pub validation_bypass: Duration,
}

/// The default [`PoolOptions::validation_bypass`]: 500 ms, as HikariCP's
/// `aliveBypassWindowMs`.
pub const VALIDATION_BYPASS_DEFAULT: Duration = Duration::from_millis(500);

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_pool_size: 100,
            min_pool_size: 0,
            max_connecting: 2,
            wait_queue_timeout: None,
            max_idle_time: None,
            max_lifetime: None,
            max_lifetime_jitter: None,
            connect_timeout: None,
            maintenance_interval: Some(Duration::from_secs(1)),
            claim_timeout: Some(Duration::from_secs(1)),
            waiters_max: limits::WAITERS_MAX_DEFAULT,
            leak_detection_threshold: None,
            test_on_borrow: false,
            validation_bypass: VALIDATION_BYPASS_DEFAULT,
        }
    }
}

impl PoolOptions {
    /// Checks every rule and bound; the pool builder calls this.
    ///
    /// # Errors
    /// An [`OptionsError`] naming the option and the rule it breaks.
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.max_pool_size > limits::CONNECTIONS_MAX {
            return Err(OptionsError::MaxPoolSizeTooLarge {
                value: self.max_pool_size,
                limit: limits::CONNECTIONS_MAX,
            });
        }
        if self.max_pool_size != 0 && self.min_pool_size > self.max_pool_size {
            return Err(OptionsError::MinAboveMax {
                min: self.min_pool_size,
                max: self.max_pool_size,
            });
        }
        if self.min_pool_size > limits::CONNECTIONS_MAX {
            return Err(OptionsError::MaxPoolSizeTooLarge {
                value: self.min_pool_size,
                limit: limits::CONNECTIONS_MAX,
            });
        }
        if self.max_connecting == 0 || self.max_connecting > limits::MAX_CONNECTING_MAX {
            return Err(OptionsError::MaxConnectingOutOfRange {
                value: self.max_connecting,
                limit: limits::MAX_CONNECTING_MAX,
            });
        }
        if self.waiters_max == 0 || self.waiters_max > limits::WAITERS_MAX_CEILING {
            return Err(OptionsError::WaitersMaxOutOfRange {
                value: self.waiters_max,
                limit: limits::WAITERS_MAX_CEILING,
            });
        }
        if let (Some(jitter), Some(lifetime)) = (self.max_lifetime_jitter, self.max_lifetime) {
            if jitter >= lifetime {
                return Err(OptionsError::JitterNotBelowLifetime { jitter, lifetime });
            }
        }
        if self.max_lifetime_jitter.is_some() && self.max_lifetime.is_none() {
            return Err(OptionsError::JitterWithoutLifetime);
        }
        if self.maintenance_interval == Some(Duration::ZERO) {
            return Err(OptionsError::ZeroMaintenanceInterval);
        }
        if self.claim_timeout == Some(Duration::ZERO) {
            return Err(OptionsError::ZeroClaimTimeout);
        }
        Ok(())
    }

    /// `max_pool_size` with 0 read as [`limits::CONNECTIONS_MAX`].
    pub fn total_max(&self) -> u32 {
        if self.max_pool_size == 0 {
            limits::CONNECTIONS_MAX
        } else {
            self.max_pool_size
        }
    }
}

/// `Duration` as milliseconds, where `0` is a real zero (not "no limit"): a window, not a
/// bound. `null` and negative values read as zero.
mod millis_or_zero {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
        super::millis::serialize(&Some(*v), s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(super::millis::deserialize(d)?.unwrap_or_default())
    }
}

/// `Option<Duration>` as integer milliseconds; `0`, `null` and negative values mean `None`
/// (CMAP: 0 is "no limit"; `backgroundThreadIntervalMS` < 0 is "never run").
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_u64(0),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let v: Option<f64> = Option::deserialize(d)?;
        Ok(match v {
            Some(ms) if ms.is_finite() && ms > 0.0 => Some(Duration::from_secs_f64(ms / 1000.0)),
            Some(ms) if ms.is_nan() => {
                return Err(serde::de::Error::custom(
                    "a duration in ms must be a number",
                ))
            }
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmap_spelling_deserializes_with_spec_defaults() {
        let o: PoolOptions =
            serde_json::from_str(r#"{"maxPoolSize": 50, "minPoolSize": 5, "maxIdleTimeMS": 100}"#)
                .unwrap();
        assert_eq!(o.max_pool_size, 50);
        assert_eq!(o.min_pool_size, 5);
        assert_eq!(o.max_idle_time, Some(Duration::from_millis(100)));
        assert_eq!(o.max_connecting, 2);
        assert_eq!(o.wait_queue_timeout, None);
        o.validate().unwrap();
    }

    #[test]
    fn test_on_borrow_is_off_by_default_and_round_trips() {
        let o = PoolOptions::default();
        assert!(!o.test_on_borrow);
        assert_eq!(o.validation_bypass, Duration::from_millis(500));
        let o: PoolOptions =
            serde_json::from_str(r#"{"testOnBorrow": true, "validationBypassMS": 0}"#).unwrap();
        assert!(o.test_on_borrow);
        assert_eq!(o.validation_bypass, Duration::ZERO);
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["testOnBorrow"], true);
        assert_eq!(json["validationBypassMS"], 0);
        let back: PoolOptions = serde_json::from_value(json).unwrap();
        assert_eq!(back, o);
    }

    #[test]
    fn negative_background_interval_means_never() {
        let o: PoolOptions = serde_json::from_str(r#"{"backgroundThreadIntervalMS": -1}"#).unwrap();
        assert_eq!(o.maintenance_interval, None);
    }

    #[test]
    fn bad_options_are_typed_errors() {
        let o = PoolOptions {
            min_pool_size: 11,
            max_pool_size: 10,
            ..PoolOptions::default()
        };
        assert!(matches!(
            o.validate(),
            Err(OptionsError::MinAboveMax { min: 11, max: 10 })
        ));
        let o = PoolOptions {
            max_connecting: 0,
            ..PoolOptions::default()
        };
        assert!(matches!(
            o.validate(),
            Err(OptionsError::MaxConnectingOutOfRange { .. })
        ));
        let unknown = serde_json::from_str::<PoolOptions>(r#"{"maxPoolSzie": 3}"#);
        assert!(unknown.unwrap_err().to_string().contains("maxPoolSzie"));
    }
}
