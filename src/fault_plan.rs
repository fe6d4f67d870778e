//! Server-side faults drawn from a seed, for the commands that run a real driver against
//! the mock server (`soak`, `drivers`).
//!
//! One [`Fault`] is one thing the mock server does to its clients, through its own
//! controls: a `failCommand` fail point (an error code, `closeConnection`,
//! `blockConnection`), refused connects or added reply latency for a while, replies cut
//! mid-way, or a restart that drops every connection. A [`FaultPlan`] is a seeded
//! schedule of them (each at a time after the load starts), which `drivers` prints with a
//! failing seed so the same plan can be run again.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bson::{doc, Document};
use mock_server::{Faults, Server};
use serde::Serialize;
use sim::rng::Rng;

/// The commands a fail point may target (the ones the workloads run).
const TARGETS: [&str; 3] = ["ping", "insert", "find"];

/// Error codes a fail point may answer with: 91 ShutdownInProgress and 11600
/// InterruptedAtShutdown (a driver clears its pool), 10107 NotWritablePrimary (a 4.2+
/// driver marks the server unknown but keeps the pool), 2 BadValue (an ordinary error).
const ERROR_CODES: [i32; 4] = [91, 11600, 10107, 2];

/// One fault the mock server injects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// The next `times` runs of `command` fail with `code`.
    ErrorCode {
        /// The command the fail point targets.
        command: String,
        /// The error code of the reply.
        code: i32,
        /// How many runs it fails.
        times: u64,
    },
    /// The next `times` runs of `command` close their connection instead of replying.
    CloseConnection {
        /// The command the fail point targets.
        command: String,
        /// How many runs it closes.
        times: u64,
    },
    /// The next `times` runs of `command` are held for `millis` before they run.
    Block {
        /// The command the fail point targets.
        command: String,
        /// How long each is held.
        millis: u64,
        /// How many runs it holds.
        times: u64,
    },
    /// New connections are closed at once for `millis`.
    RefuseConnects {
        /// For how long.
        millis: u64,
    },
    /// Every reply waits `latency_ms` for `millis`.
    Latency {
        /// The added wait per reply.
        latency_ms: u64,
        /// For how long.
        millis: u64,
    },
    /// The next `count` replies are cut mid-way and their connections closed.
    ResetMidReply {
        /// How many replies.
        count: u32,
    },
    /// The server drops every connection (its data is kept).
    Restart,
}

impl Fault {
    /// Draws one fault, each kind equally likely.
    pub fn draw(rng: &mut Rng) -> Fault {
        let command = rng.pick(&TARGETS).copied().unwrap_or("ping").to_string();
        match rng.below(7) {
            0 => Fault::ErrorCode {
                command,
                code: rng.pick(&ERROR_CODES).copied().unwrap_or(91),
                times: rng.range(1, 3),
            },
            1 => Fault::CloseConnection {
                command,
                times: rng.range(1, 3),
            },
            2 => Fault::Block {
                command,
                millis: rng.range(20, 300),
                times: rng.range(1, 4),
            },
            3 => Fault::RefuseConnects {
                millis: rng.range(20, 300),
            },
            4 => Fault::Latency {
                latency_ms: rng.range(1, 50),
                millis: rng.range(20, 300),
            },
            5 => Fault::ResetMidReply {
                count: u32::try_from(rng.range(1, 3)).unwrap_or(1),
            },
            _ => Fault::Restart,
        }
    }

    /// Injects the fault into `server`; a timed one (refused connects, latency) returns
    /// once it is over and healed.
    pub async fn apply(&self, server: &Server) {
        match self {
            Fault::ErrorCode {
                command,
                code,
                times,
            } => fail_point(
                server,
                doc! { "failCommands": [command], "errorCode": code },
                *times,
            ),
            Fault::CloseConnection { command, times } => fail_point(
                server,
                doc! { "failCommands": [command], "closeConnection": true },
                *times,
            ),
            Fault::Block {
                command,
                millis,
                times,
            } => fail_point(
                server,
                doc! {
                    "failCommands": [command],
                    "blockConnection": true,
                    "blockTimeMS": i64::try_from(*millis).unwrap_or(100),
                },
                *times,
            ),
            Fault::RefuseConnects { millis } => {
                timed(server, *millis, |f| f.refuse_connections = true).await;
            }
            Fault::Latency { latency_ms, millis } => {
                let latency = Duration::from_millis(*latency_ms);
                timed(server, *millis, |f| f.latency = latency).await;
            }
            Fault::ResetMidReply { count } => {
                let mut faults = server.faults();
                faults.reset_mid_reply = *count;
                server.set_faults(faults);
            }
            Fault::Restart => server.restart(false),
        }
    }
}

impl fmt::Display for Fault {
    /// `close(find)x2`, `error 91(ping)x1`, `block 120ms(insert)x3`, `refuse 80ms`,
    /// `latency 12ms/200ms`, `reset-mid-reply x2`, `restart`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::ErrorCode {
                command,
                code,
                times,
            } => write!(f, "error {code}({command})x{times}"),
            Fault::CloseConnection { command, times } => write!(f, "close({command})x{times}"),
            Fault::Block {
                command,
                millis,
                times,
            } => write!(f, "block {millis}ms({command})x{times}"),
            Fault::RefuseConnects { millis } => write!(f, "refuse {millis}ms"),
            Fault::Latency { latency_ms, millis } => write!(f, "latency {latency_ms}ms/{millis}ms"),
            Fault::ResetMidReply { count } => write!(f, "reset-mid-reply x{count}"),
            Fault::Restart => f.write_str("restart"),
        }
    }
}

/// A fault at a time after the load started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultStep {
    /// Milliseconds after the load started.
    pub at_ms: u64,
    /// The fault.
    pub fault: Fault,
}

/// A seeded schedule of faults, in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FaultPlan {
    /// The faults, earliest first.
    pub steps: Vec<FaultStep>,
}

impl FaultPlan {
    /// Faults every `gap` (drawn from `min_gap_ms..=max_gap_ms`) up to `horizon_ms`.
    pub fn draw(rng: &mut Rng, min_gap_ms: u64, max_gap_ms: u64, horizon_ms: u64) -> FaultPlan {
        let mut steps = Vec::new();
        let mut at_ms = 0;
        loop {
            at_ms += rng.range(min_gap_ms, max_gap_ms.max(min_gap_ms));
            if at_ms > horizon_ms {
                break;
            }
            debug_assert!(
                steps.last().is_none_or(|s: &FaultStep| s.at_ms < at_ms),
                "fault times increase"
            );
            steps.push(FaultStep {
                at_ms,
                fault: Fault::draw(rng),
            });
        }
        FaultPlan { steps }
    }

    /// Runs the plan against `server` from now until its end or until `stop` fires,
    /// whichever is first; then heals the server. Returns how many faults were injected.
    pub async fn run(&self, server: Arc<Server>, stop: tokio::sync::watch::Receiver<bool>) -> u64 {
        let start = tokio::time::Instant::now();
        let mut injected = 0;
        let mut stop = stop;
        for step in &self.steps {
            let at = start + Duration::from_millis(step.at_ms);
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
            injected += 1;
            tokio::select! {
                () = step.fault.apply(&server) => {}
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
        }
        heal(&server);
        injected
    }
}

impl fmt::Display for FaultPlan {
    /// `+120ms close(find)x2, +380ms restart, …`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return f.write_str("none");
        }
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "+{}ms {}", step.at_ms, step.fault)?;
        }
        Ok(())
    }
}

/// Back to a healthy server: no connection fault, no fail point.
pub fn heal(server: &Server) {
    server.set_faults(Faults::default());
    // Turning a fail point off cannot be rejected; a failure would only mean none was set.
    let _ =
        server.configure_fail_point(&doc! { "configureFailPoint": "failCommand", "mode": "off" });
}

fn fail_point(server: &Server, data: Document, times: u64) {
    let command = doc! {
        "configureFailPoint": "failCommand",
        "mode": { "times": i64::try_from(times).unwrap_or(1) },
        "data": data,
    };
    // A rejected fail point only means this fault is not injected.
    let _ = server.configure_fail_point(&command);
}

/// Sets a connection fault for `millis`, then takes back refused connects and latency.
async fn timed(server: &Server, millis: u64, set: impl FnOnce(&mut Faults)) {
    let mut faults = server.faults();
    set(&mut faults);
    server.set_faults(faults);
    tokio::time::sleep(Duration::from_millis(millis)).await;
    let mut faults = server.faults();
    faults.refuse_connections = false;
    faults.latency = Duration::ZERO;
    server.set_faults(faults);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_a_function_of_its_seed() {
        let a = FaultPlan::draw(&mut Rng::new(7), 100, 400, 3_000);
        let b = FaultPlan::draw(&mut Rng::new(7), 100, 400, 3_000);
        let c = FaultPlan::draw(&mut Rng::new(8), 100, 400, 3_000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(!a.steps.is_empty());
        assert!(a.steps.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
        assert!(a.steps.iter().all(|s| s.at_ms <= 3_000));
    }

    #[test]
    fn a_plan_prints_one_entry_per_step() {
        let plan = FaultPlan {
            steps: vec![
                FaultStep {
                    at_ms: 120,
                    fault: Fault::CloseConnection {
                        command: "find".into(),
                        times: 2,
                    },
                },
                FaultStep {
                    at_ms: 380,
                    fault: Fault::Restart,
                },
            ],
        };
        assert_eq!(plan.to_string(), "+120ms close(find)x2, +380ms restart");
        assert_eq!(FaultPlan::default().to_string(), "none");
    }

    #[tokio::test]
    async fn faults_reach_the_server_and_heal_takes_them_back() {
        let server = Arc::new(Server::new(mock_server::ServerOptions::default()));
        Fault::ResetMidReply { count: 2 }.apply(&server).await;
        assert_eq!(server.faults().reset_mid_reply, 2);
        Fault::ErrorCode {
            command: "ping".into(),
            code: 91,
            times: 1,
        }
        .apply(&server)
        .await;
        heal(&server);
        assert_eq!(server.faults(), Faults::default());
    }
}
