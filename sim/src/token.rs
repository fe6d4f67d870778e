//! Replay tokens: a seed, plus the shrinker's edits, in one copy-pasteable word.
//!
//! `0x1f2e3d4c` replays seed 0x1f2e3d4c as generated. `0x1f2e3d4c:f=2,5:c=0,3:o=4` keeps
//! faults 2 and 5, clients 0 and 3, and at most 4 ops per client (`f=` alone keeps no
//! fault); `:p=0.1,3.0` then keeps only op 1 of client 0 and op 0 of client 3. Decimal
//! seeds are accepted too.
//!
//! `:m=MODE` names the exploration [`Mode`] the run was made in (`0x2a:m=pct`); the
//! seed's strategy (for `portfolio`, which of random, swarm, pct and swarm+pct) follows
//! from the seed and the mode. A token without `m=` is a `random` run: tokens written
//! before modes existed replay as they always did.

use std::fmt;
use std::str::FromStr;

use crate::error::SimError;
use crate::mode::Mode;
use crate::plan::PlanFilter;

/// A seed and the part of its plan to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayToken {
    /// The seed.
    pub seed: u64,
    /// What of the plan to keep.
    pub filter: PlanFilter,
    /// The exploration mode (`None`: not recorded, a `random` run).
    pub mode: Option<Mode>,
}

impl ReplayToken {
    /// The whole plan of `seed`.
    pub fn seed(seed: u64) -> ReplayToken {
        ReplayToken {
            seed,
            filter: PlanFilter::default(),
            mode: None,
        }
    }

    /// The whole plan of `seed` in `mode` (`random` is written without `m=`, as before
    /// modes existed).
    pub fn seed_in(seed: u64, mode: Mode) -> ReplayToken {
        ReplayToken {
            mode: (mode != Mode::Random).then_some(mode),
            ..ReplayToken::seed(seed)
        }
    }

    /// The mode the token's run is made in.
    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or_default()
    }

    /// The one-line command that replays this token.
    pub fn command(&self, pool: &str, scenario: &str) -> String {
        format!("poolcheck sim --pool {pool} --scenario {scenario} --replay {self}")
    }
}

fn list(items: &[usize]) -> String {
    items
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl fmt::Display for ReplayToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.seed)?;
        if let Some(mode) = self.mode {
            write!(f, ":m={mode}")?;
        }
        if let Some(faults) = &self.filter.faults {
            write!(f, ":f={}", list(faults))?;
        }
        if let Some(clients) = &self.filter.clients {
            write!(f, ":c={}", list(clients))?;
        }
        if let Some(ops) = self.filter.ops_max {
            write!(f, ":o={ops}")?;
        }
        if let Some(ops) = &self.filter.ops {
            let pairs: Vec<String> = ops.iter().map(|(c, i)| format!("{c}.{i}")).collect();
            write!(f, ":p={}", pairs.join(","))?;
        }
        Ok(())
    }
}

impl FromStr for ReplayToken {
    type Err = SimError;

    fn from_str(token: &str) -> Result<ReplayToken, SimError> {
        let bad = |reason: &str| SimError::BadReplayToken {
            token: token.to_string(),
            reason: reason.to_string(),
        };
        let mut parts = token.trim().split(':');
        let seed_text = parts.next().unwrap_or_default();
        let seed = match seed_text
            .strip_prefix("0x")
            .or_else(|| seed_text.strip_prefix("0X"))
        {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => seed_text.parse(),
        }
        .map_err(|_| bad("the seed must be a decimal or 0x-hex u64"))?;
        let mut filter = PlanFilter::default();
        let mut mode = None;
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| bad("expected key=value after the seed"))?;
            let numbers = || -> Result<Vec<usize>, SimError> {
                value
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse().map_err(|_| bad("indices must be numbers")))
                    .collect()
            };
            match key {
                "m" => {
                    mode = Some(
                        value
                            .parse()
                            .map_err(|_| bad("m= takes random, swarm, pct or portfolio"))?,
                    );
                }
                "f" => filter.faults = Some(numbers()?),
                "c" => filter.clients = Some(numbers()?),
                "o" => filter.ops_max = Some(value.parse().map_err(|_| bad("o= takes a number"))?),
                "p" => {
                    let pair = |s: &str| -> Option<(usize, usize)> {
                        let (c, i) = s.split_once('.')?;
                        Some((c.parse().ok()?, i.parse().ok()?))
                    };
                    filter.ops = Some(
                        value
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(|s| pair(s).ok_or_else(|| bad("p= takes client.op pairs")))
                            .collect::<Result<_, _>>()?,
                    );
                }
                _ => return Err(bad("unknown key (expected m, f, c, o or p)")),
            }
        }
        Ok(ReplayToken { seed, filter, mode })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for text in [
            "0x1234abcd",
            "0x10:f=:c=0,3:o=4",
            "0x5:f=2,5",
            "0x7:c=1,4:p=1.0,1.3,4.2",
        ] {
            let token: ReplayToken = text.parse().unwrap();
            assert_eq!(token.to_string(), text);
        }
        assert_eq!("42".parse::<ReplayToken>().unwrap().seed, 42);
        assert!("0xzz".parse::<ReplayToken>().is_err());
        assert!("0x1:q=1".parse::<ReplayToken>().is_err());
        assert!("0x1:p=1".parse::<ReplayToken>().is_err());
    }

    #[test]
    fn tokens_carry_their_mode() {
        for text in [
            "0x2a:m=swarm",
            "0x2a:m=pct:f=1",
            "0x7:m=portfolio:c=1:p=1.0",
        ] {
            let token: ReplayToken = text.parse().unwrap();
            assert_eq!(token.to_string(), text);
        }
        let pct: ReplayToken = "0x2a:m=pct:f=1".parse().unwrap();
        assert_eq!(pct.mode(), Mode::Pct);
        assert_eq!(pct.filter.faults, Some(vec![1]));
        // Old tokens have no mode and are random runs; random is written without one.
        let old: ReplayToken = "0x2a:f=1".parse().unwrap();
        assert_eq!((old.mode, old.mode()), (None, Mode::Random));
        assert_eq!(ReplayToken::seed_in(42, Mode::Random).to_string(), "0x2a");
        assert_eq!(
            ReplayToken::seed_in(42, Mode::Swarm).to_string(),
            "0x2a:m=swarm"
        );
        assert_eq!(
            "0x2a:m=random".parse::<ReplayToken>().unwrap().mode(),
            Mode::Random
        );
        assert!("0x2a:m=fast".parse::<ReplayToken>().is_err());
    }
}
