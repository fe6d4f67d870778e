//! The demo's summary: what ran, what the tasks and the pool's events showed, and the
//! oracle's verdict; as text or JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use sim::judge::JUDGED;
use sim::{Invariant, Verdict};

use super::args::DemoArgs;
use super::load::Load;
use super::tally::{Peaks, Tally, EVENT_NAMES};

/// What ran.
#[derive(Debug, Serialize)]
pub(super) struct Config {
    tasks: u32,
    checkouts_per_task: u64,
    max_pool_size: u32,
    max_connecting: u32,
    wait_queue_timeout_ms: u64,
    connect_latency_us: u64,
    connect_fail_every: u64,
    error_every: u64,
    hold_us: u64,
    worker_threads: usize,
}

impl Config {
    /// The configuration of a run with `args` on `workers` threads.
    pub(super) fn new(args: &DemoArgs, workers: usize) -> Config {
        Config {
            tasks: args.tasks,
            checkouts_per_task: args.checkouts,
            max_pool_size: args.max_pool_size,
            max_connecting: args.max_connecting,
            wait_queue_timeout_ms: args.wait_queue_timeout_ms,
            connect_latency_us: args.connect_latency_us,
            connect_fail_every: args.connect_fail_every,
            error_every: args.error_every,
            hold_us: args.hold_us,
            worker_threads: workers,
        }
    }
}

#[derive(Debug, Serialize)]
struct Checkouts {
    attempted: u64,
    succeeded: u64,
    failed: u64,
    failures_by_type: BTreeMap<String, u64>,
    marked_errored: u64,
}

#[derive(Debug, Serialize)]
struct Connections {
    connect_attempts: u64,
    refused_connects: u64,
    created: u64,
    closed: u64,
    closed_by_reason: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
struct Latency {
    p50: u64,
    p99: u64,
    max: u64,
    mean: u64,
}

/// The oracle's verdict, and what it left unjudged.
#[derive(Debug, Serialize)]
struct Oracle {
    #[serde(flatten)]
    verdict: Verdict,
    /// How many `ConnectionCreated` MAX let pass beyond the limits, for events that
    /// trail the pool's state (one per worker thread).
    event_lag: u32,
    not_judged: Vec<Invariant>,
}

/// Everything the demo reports.
#[derive(Debug, Serialize)]
pub(super) struct Summary {
    config: Config,
    checkouts: Checkouts,
    connections: Connections,
    peaks: Peaks,
    elapsed_s: f64,
    throughput_ops_per_s: f64,
    latency_ns: Latency,
    events: BTreeMap<String, u64>,
    oracle: Oracle,
    /// Tasks of the demo that did not finish (the load is then incomplete).
    unfinished_tasks: Vec<String>,
    /// True when the oracle found nothing and every task finished.
    pub(super) ok: bool,
    verdict: String,
}

/// What a run produced, for [`Summary::new`].
pub(super) struct Outcome {
    /// The configuration.
    pub(super) config: Config,
    /// What the tasks saw.
    pub(super) load: Load,
    /// The counts.
    pub(super) tally: Arc<Tally>,
    /// Connect attempts and refusals at the mock server.
    pub(super) connects: (u64, u64),
    /// The oracle's verdict.
    pub(super) verdict: Verdict,
    /// MAX's allowance for trailing events.
    pub(super) event_lag: u32,
}

impl Summary {
    /// The summary of a run.
    pub(super) fn new(outcome: Outcome) -> Summary {
        let Outcome {
            config,
            load,
            tally,
            connects: (connect_attempts, refused_connects),
            verdict,
            event_lag,
        } = outcome;
        let attempted = config.checkouts_per_task * u64::from(config.tasks);
        let secs = load.elapsed.as_secs_f64();
        let ok = verdict.is_ok() && load.panics.is_empty();
        let text = match load.panics.first() {
            Some(first) => format!("FAIL — a task did not finish: {first}"),
            None => verdict.to_string(),
        };
        Summary {
            checkouts: Checkouts {
                attempted,
                succeeded: load.succeeded,
                failed: load.failed(),
                failures_by_type: load.failures.clone(),
                marked_errored: load.marked_errored,
            },
            connections: Connections {
                connect_attempts,
                refused_connects,
                created: tally.count("ConnectionCreated"),
                closed: tally.count("ConnectionClosed"),
                closed_by_reason: tally.closed_by_reason(),
            },
            peaks: tally.peaks(),
            elapsed_s: secs,
            throughput_ops_per_s: if secs > 0.0 {
                attempted as f64 / secs
            } else {
                0.0
            },
            latency_ns: Latency {
                p50: load.latency.quantile(0.50),
                p99: load.latency.quantile(0.99),
                max: load.latency.max,
                mean: load.latency.mean(),
            },
            events: tally.events(),
            oracle: Oracle {
                verdict,
                event_lag,
                not_judged: Invariant::ALL
                    .into_iter()
                    .filter(|i| !JUDGED.contains(i))
                    .collect(),
            },
            unfinished_tasks: load.panics,
            config,
            ok,
            verdict: text,
        }
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let every = |n: u64| {
            if n == 0 {
                "never".to_string()
            } else {
                format!("every {}", ordinal(n))
            }
        };
        let timeout = match self.wait_queue_timeout_ms {
            0 => "none".to_string(),
            ms => format!("{ms} ms"),
        };
        let hold = match self.hold_us {
            0 => "one yield".to_string(),
            us => format!("{us} µs"),
        };
        writeln!(
            f,
            "poolcheck demo: the reference pool under load, over an in-process mock server"
        )?;
        writeln!(
            f,
            "  pool   maxPoolSize {}, maxConnecting {}, waitQueueTimeout {timeout}",
            self.max_pool_size, self.max_connecting
        )?;
        writeln!(
            f,
            "  load   {} tasks × {} checkouts on {} worker threads, each connection held for {hold}",
            self.tasks, self.checkouts_per_task, self.worker_threads
        )?;
        writeln!(
            f,
            "  faults connect takes {} µs and fails {} attempt; {} checkout marks its connection errored",
            self.connect_latency_us,
            every(self.connect_fail_every),
            every(self.error_every)
        )?;
        writeln!(f)
    }
}

fn row(f: &mut fmt::Formatter<'_>, label: &str, value: impl fmt::Display) -> fmt::Result {
    writeln!(f, "  {label:<28} {:>12}", value.to_string())
}

fn names(invariants: &[Invariant]) -> String {
    let names: Vec<&str> = invariants.iter().map(|i| i.name()).collect();
    names.join(", ")
}

impl Summary {
    fn fmt_counts(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.checkouts;
        writeln!(f, "summary")?;
        row(f, "checkouts attempted", c.attempted)?;
        row(f, "checkouts succeeded", c.succeeded)?;
        row(f, "checkouts failed", c.failed)?;
        for (kind, n) in &c.failures_by_type {
            row(f, &format!("  {kind}"), n)?;
        }
        row(f, "connections marked errored", c.marked_errored)?;
        let n = &self.connections;
        row(f, "connect attempts", n.connect_attempts)?;
        row(f, "  refused (injected)", n.refused_connects)?;
        row(f, "connections created", n.created)?;
        row(f, "connections closed", n.closed)?;
        for (reason, count) in &n.closed_by_reason {
            row(f, &format!("  reason {reason}"), count)?;
        }
        let p = &self.peaks;
        row(f, "max observed total", p.sampled_total)?;
        row(f, "max observed in use", p.sampled_in_use)?;
        row(f, "max observed pending", p.sampled_pending)?;
        row(f, "status samples", p.status_samples)?;
        row(f, "wall time", format!("{:.3} s", self.elapsed_s))?;
        row(
            f,
            "throughput",
            format!("{:.0} ops/s", self.throughput_ops_per_s),
        )?;
        row(f, "checkout latency p50", human_ns(self.latency_ns.p50))?;
        row(f, "checkout latency p99", human_ns(self.latency_ns.p99))?;
        row(f, "checkout latency max", human_ns(self.latency_ns.max))?;
        writeln!(f)?;
        writeln!(f, "events")?;
        for name in EVENT_NAMES {
            row(f, name, self.events.get(name).copied().unwrap_or(0))?;
        }
        writeln!(f)
    }

    fn fmt_oracle(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.oracle;
        writeln!(
            f,
            "oracle (sim::Judge: the simulator's oracle on wall-clock time)"
        )?;
        writeln!(f, "  judged      {}", names(&o.verdict.invariants))?;
        writeln!(
            f,
            "  not judged  {} (need checkout ids, asked-for clears, or the simulator)",
            names(&o.not_judged)
        )?;
        writeln!(
            f,
            "  {} events judged; MAX allows {} creation(s) ahead of a trailing close",
            o.verdict.events, o.event_lag
        )?;
        writeln!(f, "  violations  {}", o.verdict.violations.len())?;
        for v in o.verdict.violations.iter().take(5) {
            writeln!(f, "  - {v}")?;
        }
        for task in &self.unfinished_tasks {
            writeln!(f, "  - a task did not finish: {task}")?;
        }
        writeln!(f)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_counts(f)?;
        self.fmt_oracle(f)?;
        writeln!(f, "verdict: {}", self.verdict)
    }
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn human_ns(ns: u64) -> String {
    let v = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", v / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2} ms", v / 1e6)
    } else {
        format!("{:.2} s", v / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;
    use sim::Violation;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: DemoArgs,
    }

    fn summary(violations: Vec<Violation>, panics: Vec<String>) -> Summary {
        let args = Cli::parse_from(["demo", "--tasks", "2", "--checkouts", "3"]).args;
        let load = Load {
            panics,
            ..Load::default()
        };
        Summary::new(Outcome {
            config: Config::new(&args, 2),
            load,
            tally: Arc::new(Tally::default()),
            connects: (0, 0),
            verdict: Verdict {
                invariants: JUDGED.to_vec(),
                events: 9,
                violations,
                suppressed: 0,
                log: Vec::new(),
            },
            event_lag: 2,
        })
    }

    #[test]
    fn the_verdict_is_the_oracles() {
        let ok = summary(Vec::new(), Vec::new());
        assert!(ok.ok);
        let text = ok.to_string();
        assert!(
            text.ends_with("verdict: OK — MAX, LEAK, STALE, ACCT, IDLE held over 9 events\n"),
            "{text}"
        );
        assert!(text.contains("not judged  LIVE, FIFO, TIME, ERR, CLEAR, PANIC, NONDET"));

        let violation = Violation {
            invariant: Invariant::Max,
            at: Duration::from_millis(5),
            message: "4 connections exist but maxPoolSize is 3".to_string(),
        };
        let failed = summary(vec![violation], Vec::new());
        assert!(!failed.ok);
        let text = failed.to_string();
        assert!(
            text.contains("violations  1\n  - MAX at 0.005000s: 4 connections"),
            "{text}"
        );
        assert!(text.contains("verdict: FAIL — MAX at 0.005000s"), "{text}");
        let json = serde_json::to_value(&failed).expect("serializable");
        assert_eq!(json["ok"], false);
        assert_eq!(json["oracle"]["violations"][0]["invariant"], "MAX");
    }

    #[test]
    fn an_unfinished_task_fails_the_run() {
        let failed = summary(Vec::new(), vec!["task 3 panicked".to_string()]);
        assert!(!failed.ok);
        assert!(failed
            .to_string()
            .contains("verdict: FAIL — a task did not finish: task 3 panicked"));
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal(1), "1st");
        assert_eq!(ordinal(2), "2nd");
        assert_eq!(ordinal(13), "13th");
        assert_eq!(ordinal(50), "50th");
        assert_eq!(ordinal(101), "101st");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_ns(999), "999 ns");
        assert_eq!(human_ns(1_500), "1.5 µs");
        assert_eq!(human_ns(2_500_000), "2.50 ms");
        assert_eq!(human_ns(3_000_000_000), "3.00 s");
    }
}
