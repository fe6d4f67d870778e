//! The Rust driver (`mongodb` 3.x) run in this process through the phases of a seed, as
//! `poolcheck soak` runs it: workers are Tokio tasks on one `Client`, its CMAP events
//! (`ClientOptions::cmap_event_handler`) are logged with their time, and a cancelled
//! operation is its future dropped.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bson::{doc, Document};
use mongodb::event::EventHandler;
use mongodb::options::ClientOptions;
use mongodb::Client;
use sim::PoolEvent;

use super::events::EventLog;
use super::plan::{OpKind, Plan, PlannedOp};
use super::session::{LoadCounts, Ready, RunError};

/// The Rust driver's version, from this build's `Cargo.lock`.
pub fn version() -> &'static str {
    let lock = include_str!("../../Cargo.lock");
    lock.split("[[package]]")
        .find(|p| p.contains("\nname = \"mongodb\"\n"))
        .and_then(|p| p.split("\nversion = \"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("3")
}

type Log = Arc<Mutex<Vec<(Duration, PoolEvent)>>>;

/// The Rust driver's client for one seed.
pub struct InProcess {
    client: Client,
    log: Log,
}

impl InProcess {
    /// Builds the client for `uri` with the event log attached.
    pub async fn start(uri: &str) -> Result<(InProcess, Ready), RunError> {
        let setup = |e: mongodb::error::Error| RunError::Setup {
            detail: e.to_string(),
        };
        let mut options = ClientOptions::parse(uri).await.map_err(setup)?;
        let log: Log = Arc::default();
        let start = Instant::now();
        let sink = log.clone();
        options.cmap_event_handler = Some(EventHandler::callback(move |event| {
            if let Some(event) = crate::soak::translate(event) {
                let mut log = sink.lock().unwrap_or_else(PoisonError::into_inner);
                log.push((start.elapsed(), event));
            }
        }));
        let client = Client::with_options(options).map_err(setup)?;
        let ready = Ready {
            version: version().to_string(),
            runtime: "tokio".into(),
        };
        Ok((InProcess { client, log }, ready))
    }

    /// Runs every worker's operations; a hang if they are not done `within`.
    pub async fn load(&self, plan: &Plan, within: Duration) -> Result<LoadCounts, RunError> {
        let mut tasks = tokio::task::JoinSet::new();
        for (w, ops) in plan.workload.workers.iter().enumerate() {
            let (client, ops) = (self.client.clone(), ops.clone());
            tasks.spawn(worker(client, w, ops));
        }
        let collect = async {
            let mut total = LoadCounts::default();
            while let Some(done) = tasks.join_next().await {
                if let Ok(counts) = done {
                    add(&mut total, counts);
                }
            }
            total
        };
        match tokio::time::timeout(within, collect).await {
            Ok(total) => Ok(total),
            Err(_) => Err(RunError::Hang {
                phase: "load-done".into(),
                waited: within,
            }),
        }
    }

    /// Closes the client (`Client::shutdown`), at most `within`.
    pub async fn close(&self, within: Duration) -> Result<(), RunError> {
        tokio::time::timeout(within, self.client.clone().shutdown())
            .await
            .map_err(|_| RunError::Hang {
                phase: "closed".into(),
                waited: within,
            })
    }

    /// The events logged so far.
    pub fn finish(self) -> EventLog {
        let events = std::mem::take(&mut *self.log.lock().unwrap_or_else(PoisonError::into_inner));
        EventLog {
            events,
            ..EventLog::default()
        }
    }
}

fn add(total: &mut LoadCounts, counts: LoadCounts) {
    total.ops += counts.ops;
    total.ok += counts.ok;
    total.failed += counts.failed;
    total.cancelled += counts.cancelled;
    for (class, n) in counts.errors {
        *total.errors.entry(class).or_default() += n;
    }
}

async fn worker(client: Client, w: usize, ops: Vec<PlannedOp>) -> LoadCounts {
    let mut counts = LoadCounts::default();
    for (n, planned) in ops.iter().enumerate() {
        counts.ops += 1;
        let op = run_op(&client, w, n, planned);
        let outcome = match planned.cancel_ms {
            Some(ms) => tokio::time::timeout(Duration::from_millis(ms), op)
                .await
                .unwrap_or(Err(None)),
            None => op.await,
        };
        match outcome {
            Ok(()) => counts.ok += 1,
            Err(None) => {
                counts.cancelled += 1;
                *counts.errors.entry("Cancelled".into()).or_default() += 1;
            }
            Err(Some(class)) => {
                counts.failed += 1;
                *counts.errors.entry(class).or_default() += 1;
            }
        }
        if planned.think_ms > 0 {
            tokio::time::sleep(Duration::from_millis(planned.think_ms)).await;
        }
    }
    counts
}

/// Runs one operation; on failure, the error's class.
async fn run_op(
    client: &Client,
    w: usize,
    n: usize,
    planned: &PlannedOp,
) -> Result<(), Option<String>> {
    let admin = client.database("admin");
    let docs = client.database("poolcheck").collection::<Document>("docs");
    let (w, n) = (w as i64, n as i64);
    let done = match planned.op {
        OpKind::Ping => admin.run_command(doc! { "ping": 1 }).await.map(drop),
        OpKind::Insert => docs.insert_one(doc! { "w": w, "n": n }).await.map(drop),
        OpKind::Find => docs.find_one(doc! { "w": w, "n": n - 1 }).await.map(drop),
        OpKind::Sleep => {
            let millis = i64::try_from(planned.millis.unwrap_or(10)).unwrap_or(10);
            admin
                .run_command(doc! { "sleep": 1, "millis": millis })
                .await
                .map(drop)
        }
    };
    done.map_err(|e| Some(class(&e)))
}

/// A short name for an error's kind.
fn class(error: &mongodb::error::Error) -> String {
    use mongodb::error::ErrorKind;
    match &*error.kind {
        ErrorKind::Io(_) => "Io".into(),
        ErrorKind::Command(c) => format!("Command({})", c.code),
        ErrorKind::Write(_) => "Write".into(),
        ErrorKind::ServerSelection { .. } => "ServerSelection".into(),
        ErrorKind::ConnectionPoolCleared { .. } => "ConnectionPoolCleared".into(),
        ErrorKind::Authentication { .. } => "Authentication".into(),
        _ => "Other".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_version_comes_from_the_lockfile() {
        let v = version();
        assert!(v.starts_with("3."), "{v}");
        assert_eq!(v.split('.').count(), 3, "{v}");
    }
}
