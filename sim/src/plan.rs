//! Scenarios and plans: one seed decides the pool options, the workload and the fault
//! plan of a run.
//!
//! A [`Scenario`] is a named set of ranges (how many clients, what op mix, which faults).
//! [`Plan::generate`] draws a concrete [`Plan`] from a seed, each part from its own
//! forked stream (options, each client, faults), so dropping a client or a fault while
//! shrinking leaves every other draw unchanged. A [`PlanFilter`] keeps a subset of the
//! faults and clients and caps the ops per client: that is what the shrinker edits and
//! what a replay token carries. In swarm mode a [`Swarm`] subset of fault kinds and op
//! styles is drawn first (its own stream) and the plan keeps to it.

use std::time::Duration;

use pool_core::PoolOptions;
use serde::Serialize;

use crate::error::SimError;
use crate::net::Latency;
use crate::rng::Rng;

pub use crate::swarm::{FaultClass, OpFeature, Swarm};

/// How one checkout is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OpStyle {
    /// Awaited until it ends.
    Await,
    /// Dropped after this long if it has not ended (a `select!` losing).
    CancelAfter(Duration),
    /// Polled once, then kept alive unpolled for this long, then dropped (a zombie).
    Zombie(Duration),
    /// Polled until its `wakes`-th wake-up arrives, then dropped without being polled
    /// again: a checkout cancelled right after it was woken (a grant it never claims).
    DropOnWake {
        /// The wake-up that drops it (1: the first).
        wakes: u8,
    },
}

/// One operation of a client: think, check out, use, check in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Op {
    /// Pause before the checkout.
    pub think: Duration,
    /// The checkout's deadline, from its start.
    pub deadline: Duration,
    /// How long the connection is held.
    pub hold: Duration,
    /// Commands run on it (each may fail on a faulty connection).
    pub commands: u8,
    /// Mark the connection errored at check-in regardless.
    pub mark_errored: bool,
    /// How the checkout is driven.
    pub style: OpStyle,
    /// Right after the check-in, in the same poll, the client clears the pool (as a
    /// driver does when another operation hits a network error) and marks it ready after
    /// this pause: the clear lands between the grant the check-in made and its claim.
    pub clear_after_check_in: Option<Duration>,
}

/// A fault, as the plan schedules it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(
    tag = "fault",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum FaultKind {
    /// Connects are refused for a while.
    RefuseConnects {
        /// For how long.
        length: Duration,
    },
    /// Connects take longer for a while.
    DelayConnects {
        /// For how long.
        length: Duration,
        /// The extra connect time.
        delay: Duration,
    },
    /// Connects are never answered for a while.
    BlackHoleConnects {
        /// For how long.
        length: Duration,
    },
    /// One checked-out connection is reset.
    ResetCheckedOut,
    /// Nothing is delivered either way for a while.
    Partition {
        /// For how long.
        length: Duration,
    },
    /// Every segment is slower for a while.
    LatencySpike {
        /// For how long.
        length: Duration,
        /// The extra one-way latency.
        extra: Duration,
    },
    /// The server restarts (drops every connection, down for a while); the harness
    /// clears the pool, then marks it ready when the server is back.
    ServerRestart {
        /// How long the server is down.
        downtime: Duration,
        /// Whether the clear interrupts in-use connections.
        interrupt: bool,
    },
    /// `failCommand` on `hello`: the next `times` handshakes fail with `code`.
    HelloError {
        /// How many handshakes.
        times: u32,
        /// The error code.
        code: i32,
    },
    /// `failCommand` on `hello` with `blockConnection`: the next `times` handshakes
    /// stall for `block` first.
    HelloBlock {
        /// How many handshakes.
        times: u32,
        /// `blockTimeMS`.
        block: Duration,
    },
    /// The server reads requests but answers none, for a while.
    ServerBlackHole {
        /// For how long.
        length: Duration,
    },
    /// The harness clears the pool (as a driver does on a network error), and marks it
    /// ready after `pause`.
    ClearPool {
        /// How long it stays paused.
        pause: Duration,
        /// Whether in-use connections are interrupted.
        interrupt: bool,
    },
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
        match self {
            FaultKind::RefuseConnects { length } => {
                write!(f, "refuse connects for {:.1}ms", ms(length))
            }
            FaultKind::DelayConnects { length, delay } => write!(
                f,
                "delay connects by {:.1}ms for {:.1}ms",
                ms(delay),
                ms(length)
            ),
            FaultKind::BlackHoleConnects { length } => {
                write!(f, "black-hole connects for {:.1}ms", ms(length))
            }
            FaultKind::ResetCheckedOut => write!(f, "reset a checked-out connection"),
            FaultKind::Partition { length } => write!(f, "partition for {:.1}ms", ms(length)),
            FaultKind::LatencySpike { length, extra } => {
                write!(f, "latency +{:.1}ms for {:.1}ms", ms(extra), ms(length))
            }
            FaultKind::ServerRestart {
                downtime,
                interrupt,
            } => write!(
                f,
                "server restart, down {:.1}ms (clear, interrupt={interrupt})",
                ms(downtime)
            ),
            FaultKind::HelloError { times, code } => {
                write!(f, "failCommand hello x{times}: errorCode {code}")
            }
            FaultKind::HelloBlock { times, block } => write!(
                f,
                "failCommand hello x{times}: blockConnection {:.0}ms",
                ms(block)
            ),
            FaultKind::ServerBlackHole { length } => {
                write!(f, "server black hole for {:.1}ms", ms(length))
            }
            FaultKind::ClearPool { pause, interrupt } => write!(
                f,
                "clear (interrupt={interrupt}), ready after {:.1}ms",
                ms(pause)
            ),
        }
    }
}

/// A scheduled fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// When (virtual time).
    pub at: Duration,
    /// What.
    #[serde(flatten)]
    pub kind: FaultKind,
}

/// A named family of runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Scenario {
    /// The name.
    pub name: &'static str,
    /// Clients (inclusive range).
    pub clients: (u64, u64),
    /// Ops per client.
    pub ops: (u64, u64),
    /// Think time in ms.
    pub think_ms: (u64, u64),
    /// Percent of ops with no think time (tight loops).
    pub zero_think_percent: u64,
    /// Hold time in ms.
    pub hold_ms: (u64, u64),
    /// Checkout deadline in ms.
    pub deadline_ms: (u64, u64),
    /// Percent of checkouts cancelled early.
    pub cancel_percent: u64,
    /// Percent of checkouts that become zombies.
    pub zombie_percent: u64,
    /// Percent of checkouts dropped right after a wake-up ([`OpStyle::DropOnWake`]).
    pub drop_on_wake_percent: u64,
    /// Per mille of check-ins followed at once by a clear
    /// ([`Op::clear_after_check_in`]).
    pub clear_after_check_in_per_mille: u64,
    /// Percent of uses that mark the connection errored.
    pub errored_percent: u64,
    /// Number of faults.
    pub faults: (u64, u64),
    /// maxPoolSize.
    pub max_pool_size: (u64, u64),
}

impl Scenario {
    /// The scenario names, for help texts.
    pub const NAMES: [&'static str; 5] = ["standard", "zombie", "calm", "smoke", "smoke-zombie"];

    /// The scenario called `name`.
    ///
    /// # Errors
    /// [`SimError::UnknownScenario`].
    pub fn named(name: &str) -> Result<Scenario, SimError> {
        let standard = Scenario {
            name: "standard",
            clients: (4, 24),
            ops: (10, 40),
            think_ms: (1, 400),
            zero_think_percent: 20,
            hold_ms: (0, 60),
            deadline_ms: (20, 2_000),
            cancel_percent: 8,
            zombie_percent: 0,
            drop_on_wake_percent: 3,
            clear_after_check_in_per_mille: 5,
            errored_percent: 3,
            faults: (2, 10),
            max_pool_size: (1, 8),
        };
        let smoke = Scenario {
            name: "smoke",
            clients: (3, 8),
            ops: (4, 12),
            faults: (1, 6),
            max_pool_size: (1, 4),
            ..standard.clone()
        };
        match name {
            "standard" => Ok(standard),
            "zombie" => Ok(Scenario {
                name: "zombie",
                zombie_percent: 6,
                ..standard
            }),
            "calm" => Ok(Scenario {
                name: "calm",
                faults: (0, 0),
                cancel_percent: 0,
                drop_on_wake_percent: 0,
                clear_after_check_in_per_mille: 0,
                errored_percent: 0,
                ..standard
            }),
            "smoke" => Ok(smoke),
            "smoke-zombie" => Ok(Scenario {
                name: "smoke-zombie",
                zombie_percent: 10,
                ..smoke
            }),
            other => Err(SimError::UnknownScenario {
                name: other.to_string(),
                known: Scenario::NAMES.join(", "),
            }),
        }
    }
}

/// Which parts of a generated plan a run keeps (the shrinker's edits).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanFilter {
    /// Indices of the faults kept (`None`: all).
    pub faults: Option<Vec<usize>>,
    /// Indices of the clients kept (`None`: all).
    pub clients: Option<Vec<usize>>,
    /// At most this many ops per client (`None`: all).
    pub ops_max: Option<usize>,
    /// The single ops kept, as (client, op index) pairs, applied after `ops_max`
    /// (`None`: all).
    pub ops: Option<Vec<(usize, usize)>>,
}

impl PlanFilter {
    /// True if it keeps everything.
    pub fn is_empty(&self) -> bool {
        *self == PlanFilter::default()
    }
}

/// One concrete run: options, clients and faults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The pool's options.
    pub options: PoolOptions,
    /// Each client's ops, by client index.
    pub clients: Vec<(usize, Vec<Op>)>,
    /// The faults, by time.
    pub faults: Vec<(usize, Fault)>,
    /// Network latency.
    #[serde(skip)]
    pub latency: Latency,
    /// When the workload is expected to be over.
    pub horizon: Duration,
    /// The swarm subset the plan was drawn with (`None`: not a swarm run).
    pub swarm: Option<Swarm>,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Plan {
    /// The plan of `seed` in `scenario` (no swarm subset: every fault kind and op style
    /// the scenario has).
    pub fn generate(seed: u64, scenario: &Scenario) -> Plan {
        Plan::generate_with(seed, scenario, false)
    }

    /// The plan of `seed` in `scenario`; with `swarm`, only the fault kinds and op
    /// styles of the seed's [`Swarm`] subset (drawn from a stream of its own, so without
    /// swarm every draw is what it was before swarm testing existed).
    pub fn generate_with(seed: u64, scenario: &Scenario, swarm: bool) -> Plan {
        let root = Rng::new(seed);
        let swarm = swarm.then(|| Swarm::draw(&root, scenario));
        let options = options(&mut root.fork("options"), scenario);
        let ops_scenario = match &swarm {
            Some(swarm) => swarm.applied_to(scenario),
            None => scenario.clone(),
        };
        let mut workload = root.fork("workload");
        let count = workload.range(scenario.clients.0, scenario.clients.1) as usize;
        let clients: Vec<(usize, Vec<Op>)> = (0..count)
            .map(|i| {
                (
                    i,
                    client_ops(&mut root.fork(&format!("client{i}")), &ops_scenario),
                )
            })
            .collect();
        let horizon = clients
            .iter()
            .map(|(_, ops)| ops.iter().map(|o| o.think + o.hold).sum::<Duration>())
            .max()
            .unwrap_or_default();
        let mut f = root.fork("faults");
        let n = f.range(scenario.faults.0, scenario.faults.1);
        let classes = swarm.as_ref().map(|s| s.faults.as_slice());
        let mut faults: Vec<Fault> = (0..n).map(|_| fault(&mut f, horizon, classes)).collect();
        faults.sort_by_key(|fault| fault.at);
        let mut l = root.fork("latency");
        let min = Duration::from_micros(l.range(50, 400));
        let latency = Latency {
            min,
            max: min + Duration::from_micros(l.range(0, 2_000)),
        };
        Plan {
            options,
            clients,
            faults: faults.into_iter().enumerate().collect(),
            latency,
            horizon,
            swarm,
        }
    }

    /// The plan with only what `filter` keeps.
    pub fn filtered(mut self, filter: &PlanFilter) -> Plan {
        if let Some(keep) = &filter.faults {
            self.faults.retain(|(i, _)| keep.contains(i));
        }
        if let Some(keep) = &filter.clients {
            self.clients.retain(|(i, _)| keep.contains(i));
        }
        if let Some(max) = filter.ops_max {
            for (_, ops) in &mut self.clients {
                ops.truncate(max);
            }
        }
        if let Some(keep) = &filter.ops {
            let keep: std::collections::HashSet<(usize, usize)> = keep.iter().copied().collect();
            for (client, ops) in &mut self.clients {
                let mut index = 0;
                ops.retain(|_| {
                    index += 1;
                    keep.contains(&(*client, index - 1))
                });
            }
        }
        self
    }

    /// The total number of ops.
    pub fn op_count(&self) -> usize {
        self.clients.iter().map(|(_, ops)| ops.len()).sum()
    }
}

fn options(o: &mut Rng, scenario: &Scenario) -> PoolOptions {
    let max = o.range(scenario.max_pool_size.0, scenario.max_pool_size.1) as u32;
    let min = if o.percent(30) {
        o.range(0, u64::from(max.min(2))) as u32
    } else {
        0
    };
    PoolOptions {
        max_pool_size: max,
        min_pool_size: min,
        max_connecting: o.range(1, 3) as u32,
        wait_queue_timeout: o.percent(70).then(|| o.duration(ms(100), ms(2_000))),
        max_idle_time: o.percent(30).then(|| o.duration(ms(500), ms(5_000))),
        connect_timeout: Some(o.duration(ms(100), ms(1_000))),
        maintenance_interval: Some(o.duration(ms(100), ms(1_000))),
        leak_detection_threshold: leak_threshold(o),
        ..test_on_borrow(o)
    }
}

/// On a third of the seeds, test-on-borrow with a bypass window of 0, 1, 20 or 500 ms
/// (only pool-core reads it), drawn from a stream of its own so every other draw of the
/// seed is what it was before the option existed.
fn test_on_borrow(o: &Rng) -> PoolOptions {
    let mut t = o.fork("test_on_borrow");
    let defaults = PoolOptions::default();
    if !t.percent(33) {
        return defaults;
    }
    let windows = [0, 1, 20, 500];
    let window = windows[t.range(0, windows.len() as u64 - 1) as usize];
    PoolOptions {
        test_on_borrow: true,
        validation_bypass: ms(window),
        ..defaults
    }
}

/// On a third of the seeds, a leak-detection threshold of 20–500 ms, drawn from a stream
/// of its own so every other draw of the seed is what it was before the option existed.
fn leak_threshold(o: &Rng) -> Option<Duration> {
    let mut l = o.fork("leak_detection_threshold");
    l.percent(33).then(|| l.duration(ms(20), ms(500)))
}

fn client_ops(w: &mut Rng, s: &Scenario) -> Vec<Op> {
    let n = w.range(s.ops.0, s.ops.1);
    (0..n)
        .map(|_| {
            let think = if w.percent(s.zero_think_percent) {
                Duration::ZERO
            } else {
                w.duration(ms(s.think_ms.0), ms(s.think_ms.1))
            };
            let deadline = w.duration(ms(s.deadline_ms.0), ms(s.deadline_ms.1));
            let style = if w.percent(s.zombie_percent) {
                OpStyle::Zombie(w.duration(ms(50), ms(1_000)))
            } else if w.percent(s.cancel_percent) {
                OpStyle::CancelAfter(w.duration(ms(1), deadline))
            } else if w.percent(s.drop_on_wake_percent) {
                OpStyle::DropOnWake {
                    wakes: w.range(1, 3) as u8,
                }
            } else {
                OpStyle::Await
            };
            Op {
                think,
                deadline,
                hold: w.duration(ms(s.hold_ms.0), ms(s.hold_ms.1)),
                commands: w.range(0, 2) as u8,
                mark_errored: w.percent(s.errored_percent),
                style,
                clear_after_check_in: (w.below(1000) < s.clear_after_check_in_per_mille)
                    .then(|| w.duration(ms(1), ms(100))),
            }
        })
        .collect()
}

fn fault(f: &mut Rng, horizon: Duration, classes: Option<&[FaultClass]>) -> Fault {
    // Half a millisecond off the millisecond grid: mock-server's Tokio sleeps end on
    // whole milliseconds, so a fault never lands in the same instant as one.
    let at = ms(f.range(0, horizon.as_millis() as u64)) + Duration::from_micros(500);
    let length = f.duration(ms(20), ms(800));
    let class = match classes {
        // Without swarm: the draws every plan made before swarm testing existed.
        None => match f.below(11) {
            0 => FaultClass::RefuseConnects,
            1 => FaultClass::DelayConnects,
            2 => FaultClass::BlackHoleConnects,
            3 | 4 => FaultClass::ResetCheckedOut,
            5 => FaultClass::Partition,
            6 => FaultClass::LatencySpike,
            7 => FaultClass::ServerRestart,
            8 => FaultClass::HelloError,
            9 => FaultClass::HelloBlock,
            _ if f.percent(50) => FaultClass::ServerBlackHole,
            _ => FaultClass::ClearPool,
        },
        Some(enabled) => *f.pick(enabled).unwrap_or(&FaultClass::ResetCheckedOut),
    };
    let kind = match class {
        FaultClass::RefuseConnects => FaultKind::RefuseConnects { length },
        FaultClass::DelayConnects => FaultKind::DelayConnects {
            length,
            delay: f.duration(ms(10), ms(600)),
        },
        FaultClass::BlackHoleConnects => FaultKind::BlackHoleConnects { length },
        FaultClass::ResetCheckedOut => FaultKind::ResetCheckedOut,
        FaultClass::Partition => FaultKind::Partition { length },
        FaultClass::LatencySpike => FaultKind::LatencySpike {
            length,
            extra: f.duration(ms(5), ms(300)),
        },
        FaultClass::ServerRestart => FaultKind::ServerRestart {
            downtime: f.duration(ms(30), ms(500)),
            interrupt: f.percent(50),
        },
        FaultClass::HelloError => FaultKind::HelloError {
            times: f.range(1, 4) as u32,
            code: *f.pick(&[91, 11600, 13436, 2]).unwrap_or(&91),
        },
        FaultClass::HelloBlock => FaultKind::HelloBlock {
            times: f.range(1, 4) as u32,
            block: ms(f.range(10, 600)),
        },
        FaultClass::ServerBlackHole => FaultKind::ServerBlackHole { length },
        FaultClass::ClearPool => FaultKind::ClearPool {
            pause: f.duration(ms(15), ms(300)),
            interrupt: f.percent(50),
        },
    };
    Fault { at, kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_repeat_and_filters_keep_the_rest() {
        let s = Scenario::named("standard").unwrap();
        let a = Plan::generate(42, &s);
        assert_eq!(a, Plan::generate(42, &s));
        assert!(a.options.validate().is_ok());
        let filter = PlanFilter {
            faults: Some(vec![0]),
            clients: Some(vec![1]),
            ops_max: Some(2),
            ops: None,
        };
        let b = a.clone().filtered(&filter);
        assert!(b.faults.len() <= 1);
        assert_eq!(b.clients.len(), 1);
        assert_eq!(
            b.clients[0],
            (1, a.clients[1].1[..2.min(a.clients[1].1.len())].to_vec())
        );
        let single = PlanFilter {
            clients: Some(vec![1]),
            ops: Some(vec![(1, 1)]),
            ..PlanFilter::default()
        };
        let c = a.clone().filtered(&single);
        assert_eq!(c.clients, vec![(1, vec![a.clients[1].1[1]])]);
        assert!(Scenario::named("nope").is_err());
    }

    /// Counts the ops of `scenario` over seeds 1..=50 by style: (cancel-after,
    /// zombie, drop-on-wake, total).
    fn styles(scenario: &str) -> (usize, usize, usize, usize) {
        let s = Scenario::named(scenario).unwrap();
        let mut counts = (0, 0, 0, 0);
        for seed in 1..=50 {
            for (_, ops) in Plan::generate(seed, &s).clients {
                for op in ops {
                    counts.3 += 1;
                    match op.style {
                        OpStyle::Await => {}
                        OpStyle::CancelAfter(after) => {
                            assert!(after <= op.deadline);
                            counts.0 += 1;
                        }
                        OpStyle::Zombie(_) => counts.1 += 1,
                        OpStyle::DropOnWake { wakes } => {
                            assert!((1..=3).contains(&wakes), "wakes {wakes}");
                            counts.2 += 1;
                        }
                    }
                }
            }
        }
        counts
    }

    #[test]
    fn scenarios_draw_their_op_styles() {
        let (cancel, zombie, drop_on_wake, total) = styles("standard");
        assert!(cancel > 0 && drop_on_wake > 0, "standard cancels");
        assert_eq!(zombie, 0, "standard has no zombies");
        // A small share: 3 % of the ops not already cancelled or zombies.
        assert!(drop_on_wake * 100 < total * 6, "{drop_on_wake} of {total}");
        let (_, zombie, drop_on_wake, _) = styles("zombie");
        assert!(zombie > 0 && drop_on_wake > 0, "zombie has both");
        assert_eq!(styles("calm").0 + styles("calm").1 + styles("calm").2, 0);
        let clears = |name: &str| {
            let s = Scenario::named(name).unwrap();
            (1..=50)
                .flat_map(|seed| Plan::generate(seed, &s).clients)
                .flat_map(|(_, ops)| ops)
                .filter(|op| op.clear_after_check_in.is_some())
                .count()
        };
        assert!(
            clears("standard") > 0,
            "standard clears after some check-ins"
        );
        assert_eq!(clears("calm"), 0, "calm never clears");
    }
}
