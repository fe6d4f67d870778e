//! The judge's settings ([`JudgeSpec`]) and their `--judge` spelling.
//!
//! `max-pool-size=N[,max-connecting=M][,grace-ms=G][,settle-ms=T][,stale-grace-ms=S]`
//! sets the bounds of the checks:
//! - WIRE-MAX: at most `max-pool-size` (default 100, CMAP's maxPoolSize) pooled
//!   connections of one client open at once, counting only those still open `settle-ms`
//!   (default 250) after the newest was pooled: a connection its client let go may look
//!   open to the server a moment longer (CMAP lets a pool tear a closed connection's
//!   socket down later, and the server reads the hang-up when its task next runs).
//! - WIRE-CONNECTING: at most `max-connecting` (default 2, CMAP's maxConnecting) pooled
//!   connections of one client in their handshake at once.
//! - WIRE-LEAK: no connection of a client stays open more than `grace-ms` (default 1000)
//!   after the client ended its sessions.
//! - WIRE-SHARED has no setting.
//! - WIRE-STALE runs only with `stale-grace-ms` (opt-in, absent by default): after the
//!   server sent an error that makes a driver clear its pool, no connection of that client
//!   established before the clear and idle at that moment carries a second request more
//!   than `stale-grace-ms` later. Opt-in because it assumes each checkout carries one
//!   command (a multi-batch bulk write, a pinned cursor or a transaction legitimately keeps
//!   using a connection across the clear) and that the driver handles the error within
//!   the grace; both hold for the workloads `poolcheck drivers` generates. See
//!   `judge/stale.rs`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The bounds the judge checks against. Parse one from the `--judge` spelling with
/// [`str::parse`].
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use mock_server::judge::JudgeSpec;
///
/// let spec: JudgeSpec = "max-pool-size=5,grace-ms=200".parse().unwrap();
/// assert_eq!(spec.max_pool_size, 5);
/// assert_eq!(spec.max_connecting, 2);
/// assert_eq!(spec.stale_grace, None);
/// let stale: JudgeSpec = "stale-grace-ms=500".parse().unwrap();
/// assert_eq!(stale.stale_grace, Some(Duration::from_millis(500)));
/// assert_eq!(
///     stale.to_string(),
///     "max-pool-size=100,max-connecting=2,grace-ms=1000,settle-ms=250,stale-grace-ms=500"
/// );
/// assert!("max-pool-size=zero".parse::<JudgeSpec>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JudgeSpec {
    /// The most pooled connections of one client open at once (CMAP's maxPoolSize).
    pub max_pool_size: u32,
    /// The most pooled connections of one client in their handshake at once (CMAP's
    /// maxConnecting).
    pub max_connecting: u32,
    /// How long a client's connections may stay open after it ended its sessions.
    pub grace: Duration,
    /// How long after a connection became pooled WIRE-MAX looks at which of the client's
    /// other connections are still open (those that close sooner are not counted).
    pub settle: Duration,
    /// With `Some`, WIRE-STALE runs: how long after a pool-clearing error the client may
    /// still send a second request on a connection established before it (`None`, the
    /// default: the check is off).
    pub stale_grace: Option<Duration>,
}

impl Default for JudgeSpec {
    fn default() -> Self {
        JudgeSpec {
            max_pool_size: 100,
            max_connecting: 2,
            grace: Duration::from_secs(1),
            settle: Duration::from_millis(250),
            stale_grace: None,
        }
    }
}

impl fmt::Display for JudgeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "max-pool-size={},max-connecting={},grace-ms={},settle-ms={}",
            self.max_pool_size,
            self.max_connecting,
            self.grace.as_millis(),
            self.settle.as_millis()
        )?;
        if let Some(stale) = self.stale_grace {
            write!(f, ",stale-grace-ms={}", stale.as_millis())?;
        }
        Ok(())
    }
}

/// Why a `--judge` spec could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JudgeSpecError {
    /// A part is not `key=value`.
    #[error("'{0}' is not key=value (expected max-pool-size=N[,max-connecting=M][,grace-ms=G][,settle-ms=T][,stale-grace-ms=S])")]
    NotKeyValue(String),
    /// A key other than `max-pool-size`, `max-connecting`, `grace-ms`, `settle-ms` and
    /// `stale-grace-ms`.
    #[error("unknown key '{0}' (known: max-pool-size, max-connecting, grace-ms, settle-ms, stale-grace-ms)")]
    UnknownKey(String),
    /// A key given twice.
    #[error("'{0}' is given twice")]
    Repeated(String),
    /// A value that is not a whole number.
    #[error("{key}={value}: not a whole number")]
    NotANumber {
        /// The key.
        key: String,
        /// The value as given.
        value: String,
    },
    /// A pool size or maxConnecting of zero.
    #[error("{0} must be at least 1")]
    Zero(String),
}

impl FromStr for JudgeSpec {
    type Err = JudgeSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut spec = JudgeSpec::default();
        let mut seen: Vec<&str> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = part.split_once('=') else {
                return Err(JudgeSpecError::NotKeyValue(part.to_string()));
            };
            let (key, value) = (key.trim(), value.trim());
            if seen.contains(&key) {
                return Err(JudgeSpecError::Repeated(key.to_string()));
            }
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| JudgeSpecError::NotANumber {
                        key: key.to_string(),
                        value: value.to_string(),
                    })
            };
            let positive = || match number()? {
                0 => Err(JudgeSpecError::Zero(key.to_string())),
                n => Ok(u32::try_from(n).unwrap_or(u32::MAX)),
            };
            match key {
                "max-pool-size" => spec.max_pool_size = positive()?,
                "max-connecting" => spec.max_connecting = positive()?,
                "grace-ms" => spec.grace = Duration::from_millis(number()?),
                "settle-ms" => spec.settle = Duration::from_millis(number()?),
                "stale-grace-ms" => spec.stale_grace = Some(Duration::from_millis(number()?)),
                _ => return Err(JudgeSpecError::UnknownKey(key.to_string())),
            }
            seen.push(key);
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_grace_is_no_panic() {
        let spec: JudgeSpec = "grace-ms=18446744073709551615".parse().expect("spec");
        let judge = super::super::Judge::new(spec);
        judge.client_closed_by_app("x");
        assert!(judge.verdict().is_ok());
    }

    #[test]
    fn parses_and_rejects() {
        let spec: JudgeSpec = "max-pool-size=3,max-connecting=1,grace-ms=50"
            .parse()
            .expect("spec");
        assert_eq!(spec.max_pool_size, 3);
        assert_eq!(spec.max_connecting, 1);
        assert_eq!(spec.grace, Duration::from_millis(50));
        assert_eq!(spec.stale_grace, None);
        assert_eq!("".parse::<JudgeSpec>(), Ok(JudgeSpec::default()));
        let stale: JudgeSpec = "stale-grace-ms=0".parse().expect("spec");
        assert_eq!(stale.stale_grace, Some(Duration::ZERO));
        assert_eq!(stale.to_string().parse::<JudgeSpec>(), Ok(stale));
        assert!(matches!(
            "stale-grace-ms=soon".parse::<JudgeSpec>(),
            Err(JudgeSpecError::NotANumber { .. })
        ));
        assert!(matches!(
            "max-pool-size".parse::<JudgeSpec>(),
            Err(JudgeSpecError::NotKeyValue(_))
        ));
        assert!(matches!(
            "pool=3".parse::<JudgeSpec>(),
            Err(JudgeSpecError::UnknownKey(_))
        ));
        assert!(matches!(
            "max-pool-size=0".parse::<JudgeSpec>(),
            Err(JudgeSpecError::Zero(_))
        ));
        assert!(matches!(
            "max-pool-size=-1".parse::<JudgeSpec>(),
            Err(JudgeSpecError::NotANumber { .. })
        ));
        assert!(matches!(
            "grace-ms=1,grace-ms=2".parse::<JudgeSpec>(),
            Err(JudgeSpecError::Repeated(_))
        ));
    }
}
