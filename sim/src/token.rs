//! Replay tokens: a seed, plus the shrinker's edits, in one copy-pasteable word.
//!
//! `0x1f2e3d4c` replays seed 0x1f2e3d4c as generated. `0x1f2e3d4c:f=2,5:c=0,3:o=4` keeps
//! faults 2 and 5, clients 0 and 3, and at most 4 ops per client (`f=` alone keeps no
//! fault); `:p=0.1,3.0` then keeps only op 1 of client 0 and op 0 of client 3. Decimal
//! seeds are accepted too.

use std::fmt;
use std::str::FromStr;

use crate::error::SimError;
use crate::plan::PlanFilter;

/// A seed and the part of its plan to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayToken {
    /// The seed.
    pub seed: u64,
    /// What of the plan to keep.
    pub filter: PlanFilter,
}

impl ReplayToken {
    /// The whole plan of `seed`.
    pub fn seed(seed: u64) -> ReplayToken {
        ReplayToken {
            seed,
            filter: PlanFilter::default(),
        }
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
                _ => return Err(bad("unknown key (expected f, c, o or p)")),
            }
        }
        Ok(ReplayToken { seed, filter })
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
}
