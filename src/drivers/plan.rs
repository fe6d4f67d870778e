//! What one seed of `poolcheck drivers` runs: the driver's pool options, each worker's
//! operations, and the server's fault plan, all drawn from the seed.
//!
//! The run itself is not deterministic (real processes, sockets and schedulers); the plan
//! is. `--seed S` runs the same plan again.

use std::fmt;
use std::net::SocketAddr;

use clap::ValueEnum;
use serde::Serialize;
use sim::rng::Rng;

use crate::fault_plan::FaultPlan;

/// The driver under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Driver {
    /// PyMongo's `MongoClient`: workers are threads.
    Pymongo,
    /// PyMongo's `AsyncMongoClient`: workers are asyncio tasks.
    PymongoAsync,
    /// The Node.js driver: workers are concurrent async functions.
    Node,
    /// The Rust driver, in this process: workers are Tokio tasks.
    Rust,
}

impl Driver {
    /// The name `--driver` takes.
    pub fn name(self) -> &'static str {
        match self {
            Driver::Pymongo => "pymongo",
            Driver::PymongoAsync => "pymongo-async",
            Driver::Node => "node",
            Driver::Rust => "rust",
        }
    }

    /// Whether the driver reports its pool events from several threads at once, so one
    /// thread's `ConnectionCreated` can be reported before another's `ConnectionClosed`
    /// that freed the slot (the judge then allows one such creation per worker).
    pub fn reports_from_threads(self) -> bool {
        matches!(self, Driver::Pymongo)
    }

    /// Whether the driver has the `waitQueueTimeoutMS` option (the Rust driver has none).
    pub fn has_wait_queue_timeout(self) -> bool {
        !matches!(self, Driver::Rust)
    }

    /// How an operation with `cancel_ms` is cancelled.
    pub fn cancellation(self) -> &'static str {
        match self {
            Driver::Pymongo => "pymongo.timeout() (client-side operation timeout)",
            Driver::PymongoAsync => "asyncio task cancellation (asyncio.wait_for)",
            Driver::Node => "AbortSignal where the operation takes one, else timeoutMS",
            Driver::Rust => "the operation's future dropped (tokio::time::timeout)",
        }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One operation of a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// `{ping: 1}` on admin.
    Ping,
    /// `insertOne` into `poolcheck.docs`.
    Insert,
    /// `findOne` in `poolcheck.docs`.
    Find,
    /// mongod's test command `{sleep: 1, millis}`: holds the connection that long.
    Sleep,
}

/// One planned operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedOp {
    /// What it runs.
    pub op: OpKind,
    /// How long a `sleep` holds its connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub millis: Option<u64>,
    /// How long the worker waits after it.
    pub think_ms: u64,
    /// Cancel the operation if it has not finished after this long.
    pub cancel_ms: Option<u64>,
}

/// The driver's pool options and its workers' operations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Workload {
    /// maxPoolSize.
    pub max_pool_size: u32,
    /// maxConnecting.
    pub max_connecting: u32,
    /// waitQueueTimeoutMS (for drivers that have it).
    pub wait_queue_timeout_ms: Option<u64>,
    /// Each worker's operations, in order.
    pub workers: Vec<Vec<PlannedOp>>,
}

/// Everything one seed runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The seed it was drawn from.
    pub seed: u64,
    /// The driver it runs.
    pub driver: Driver,
    /// The driver's options and operations.
    pub workload: Workload,
    /// The server's faults.
    pub faults: FaultPlan,
}

/// How far into the load the fault plan reaches (faults stop when the load ends).
const FAULT_HORIZON_MS: u64 = 4_000;

impl Plan {
    /// The plan of `seed` for `driver`, with `ops` operations per worker (`faults`: whether
    /// the server injects any).
    pub fn draw(seed: u64, driver: Driver, ops: u32, faults: bool) -> Plan {
        let root = Rng::new(seed);
        let mut rng = root.fork("workload");
        let max_pool_size = u32::try_from(rng.range(1, 6)).unwrap_or(1);
        let max_connecting = u32::try_from(rng.range(1, 3)).unwrap_or(1);
        let wait_queue_timeout_ms =
            (driver.has_wait_queue_timeout() && rng.percent(50)).then(|| rng.range(100, 1_000));
        let workers = (0..rng.range(2, 8))
            .map(|w| {
                let mut rng = root.fork(&format!("worker{w}"));
                (0..ops).map(|_| draw_op(&mut rng)).collect()
            })
            .collect();
        let faults = if faults {
            FaultPlan::draw(&mut root.fork("faults"), 50, 300, FAULT_HORIZON_MS)
        } else {
            FaultPlan::default()
        };
        Plan {
            seed,
            driver,
            workload: Workload {
                max_pool_size,
                max_connecting,
                wait_queue_timeout_ms,
                workers,
            },
            faults,
        }
    }

    /// The application name the driver's client sends (one per seed and driver).
    pub fn app_name(&self) -> String {
        format!("poolcheck-{}-{:x}", self.driver, self.seed)
    }

    /// The connection string for the server at `addr`, with the pool options.
    pub fn uri(&self, addr: SocketAddr) -> String {
        let w = &self.workload;
        let mut uri = format!(
            "mongodb://{addr}/?directConnection=true&appName={}&maxPoolSize={}&maxConnecting={}\
             &serverSelectionTimeoutMS=3000&connectTimeoutMS=2000",
            self.app_name(),
            w.max_pool_size,
            w.max_connecting,
        );
        // A lost reply must not block a worker for good (the Rust driver has no such
        // option; its in-process workers are bounded by the load's timeout instead).
        if self.driver != Driver::Rust {
            uri.push_str("&socketTimeoutMS=10000");
        }
        if let Some(ms) = w.wait_queue_timeout_ms {
            uri.push_str(&format!("&waitQueueTimeoutMS={ms}"));
        }
        uri
    }

    /// The plan as a driver script reads it (see `scripts/README.md`).
    pub fn script_input(
        &self,
        addr: SocketAddr,
        events_path: &std::path::Path,
    ) -> serde_json::Value {
        serde_json::json!({
            "uri": self.uri(addr),
            "app_name": self.app_name(),
            "events_path": events_path,
            "workers": self.workload.workers,
        })
    }
}

/// One operation: a quarter each of ping, insert, find and sleep (1–60 ms); a think time
/// of 0–5 ms; one in ten cancelled after 1–50 ms.
fn draw_op(rng: &mut Rng) -> PlannedOp {
    let op = match rng.below(4) {
        0 => OpKind::Ping,
        1 => OpKind::Insert,
        2 => OpKind::Find,
        _ => OpKind::Sleep,
    };
    let millis = (op == OpKind::Sleep).then(|| rng.range(1, 60));
    let think_ms = rng.range(0, 5);
    let cancel_ms = rng.percent(10).then(|| rng.range(1, 50));
    PlannedOp {
        op,
        millis,
        think_ms,
        cancel_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_a_function_of_its_seed_and_driver() {
        let a = Plan::draw(5, Driver::Pymongo, 20, true);
        assert_eq!(a, Plan::draw(5, Driver::Pymongo, 20, true));
        assert_ne!(a, Plan::draw(6, Driver::Pymongo, 20, true));
        assert!(a.workload.workers.iter().all(|w| w.len() == 20));
        assert!((1..=6).contains(&a.workload.max_pool_size));
        assert!(!a.faults.steps.is_empty());
        assert!(Plan::draw(5, Driver::Pymongo, 20, false)
            .faults
            .steps
            .is_empty());
    }

    #[test]
    fn the_rust_driver_gets_no_wait_queue_timeout() {
        for seed in 0..50 {
            let plan = Plan::draw(seed, Driver::Rust, 1, false);
            assert_eq!(plan.workload.wait_queue_timeout_ms, None);
        }
        let drawn = (0..50).filter(|&seed| {
            Plan::draw(seed, Driver::Node, 1, false)
                .workload
                .wait_queue_timeout_ms
                .is_some()
        });
        assert!(drawn.count() > 0);
    }

    #[test]
    fn the_uri_carries_the_pool_options() {
        let plan = Plan::draw(1, Driver::Node, 3, false);
        let addr: SocketAddr = "127.0.0.1:27017".parse().unwrap();
        let uri = plan.uri(addr);
        assert!(uri.starts_with("mongodb://127.0.0.1:27017/?directConnection=true"));
        assert!(uri.contains(&format!("maxPoolSize={}", plan.workload.max_pool_size)));
        assert!(uri.contains("appName=poolcheck-node-1"));
        let input = plan.script_input(addr, std::path::Path::new("/tmp/e.jsonl"));
        assert_eq!(
            input["workers"].as_array().map(Vec::len),
            Some(plan.workload.workers.len())
        );
        assert_eq!(input["events_path"], "/tmp/e.jsonl");
    }
}
