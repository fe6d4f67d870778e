//! Chrome / Perfetto trace-event export: connections and checkouts as tracks over virtual
//! time. Open the file at ui.perfetto.dev (or chrome://tracing).
//!
//! Process 1 ("connections") has one track per connection, with spans `pending`,
//! `available`, `validating` and `in use`; process 2 ("checkouts") one track per client, with a span
//! per checkout named by its outcome; process 3 ("harness") carries faults, clears and
//! violations as instant events. Timestamps are virtual microseconds.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::error::SimError;
use crate::pool_under_test::PoolEvent;
use crate::trace::{Record, TraceRecord};

const CONNECTIONS: u32 = 1;
const CHECKOUTS: u32 = 2;
const HARNESS: u32 = 3;

/// Builds the trace-event JSON of `records`.
pub fn trace_events(records: &[TraceRecord]) -> Value {
    let mut tracks = Tracks::default();
    for r in records {
        tracks.record(r.t_us, &r.record);
    }
    tracks.finish(records.last().map_or(0, |r| r.t_us))
}

/// The trace being built: the events so far and the spans still open.
#[derive(Default)]
struct Tracks {
    events: Vec<Value>,
    /// Per connection: the open span's name and start.
    conn_spans: BTreeMap<u64, (&'static str, u64)>,
    /// Per checkout: its client and start.
    checkout_spans: BTreeMap<u64, (u32, u64)>,
    named_conns: Vec<u64>,
    named_clients: Vec<u32>,
}

impl Tracks {
    /// Adds what one trace record shows.
    fn record(&mut self, t: u64, record: &Record) {
        match record {
            Record::Pool { event } => self.pool_event(t, event),
            Record::CheckoutBegan {
                checkout, client, ..
            } => {
                self.named_clients.push(*client);
                self.checkout_spans.insert(*checkout, (*client, t));
            }
            Record::CheckoutEnded {
                checkout,
                outcome,
                id,
            } => {
                if let Some((client, start)) = self.checkout_spans.remove(checkout) {
                    let name = format!("checkout {checkout}: {outcome}");
                    let args = json!({ "connection": id });
                    let tid = u64::from(client);
                    self.events
                        .push(span(CHECKOUTS, tid, &name, start, t, args));
                }
            }
            Record::Harness { action } => self.events.push(instant(HARNESS, 0, action, t)),
            Record::Violation { invariant, message } => self.events.push(instant(
                HARNESS,
                1,
                &format!("VIOLATION {invariant}: {message}"),
                t,
            )),
            _ => {}
        }
    }

    /// Adds what one pool event shows: a connection's state change, or a pool-wide
    /// instant.
    fn pool_event(&mut self, t: u64, event: &PoolEvent) {
        match *event {
            PoolEvent::ConnectionCreated { id } => {
                self.named_conns.push(id);
                self.move_conn(id, t, Some("pending"));
            }
            PoolEvent::ConnectionReady { id }
            | PoolEvent::CheckedIn { id }
            | PoolEvent::ConnectionValidated { id } => self.move_conn(id, t, Some("available")),
            PoolEvent::ConnectionValidating { id } => self.move_conn(id, t, Some("validating")),
            PoolEvent::CheckedOut { id } => self.move_conn(id, t, Some("in use")),
            PoolEvent::ConnectionClosed { id, reason } => {
                self.move_conn(id, t, None);
                let name = format!("closed ({reason:?})");
                self.events.push(instant(CONNECTIONS, id, &name, t));
            }
            PoolEvent::PoolCleared { interrupt } => self.events.push(instant(
                HARNESS,
                0,
                &format!("PoolCleared interrupt={interrupt}"),
                t,
            )),
            PoolEvent::PoolReady => self.events.push(instant(HARNESS, 0, "PoolReady", t)),
            PoolEvent::PoolClosed => self.events.push(instant(HARNESS, 0, "PoolClosed", t)),
            PoolEvent::CheckOutStarted | PoolEvent::CheckOutFailed { .. } => {}
            PoolEvent::LeakSuspected { id } => {
                self.events
                    .push(instant(CONNECTIONS, id, "leak suspected", t));
            }
            PoolEvent::LeakReturned { id } => {
                self.events
                    .push(instant(CONNECTIONS, id, "leak returned", t));
            }
        }
    }

    /// Ends connection `id`'s open span at `t` and, with `next`, opens the next one.
    fn move_conn(&mut self, id: u64, t: u64, next: Option<&'static str>) {
        if let Some((name, start)) = self.conn_spans.remove(&id) {
            self.events
                .push(span(CONNECTIONS, id, name, start, t, json!({})));
        }
        if let Some(name) = next {
            self.conn_spans.insert(id, (name, t));
        }
    }

    /// Ends every open span at `end`, names the tracks and returns the JSON.
    fn finish(mut self, end: u64) -> Value {
        let mut events = std::mem::take(&mut self.events);
        for (id, (name, start)) in std::mem::take(&mut self.conn_spans) {
            events.push(span(CONNECTIONS, id, name, start, end, json!({})));
        }
        for (checkout, (client, start)) in std::mem::take(&mut self.checkout_spans) {
            let name = format!("checkout {checkout}: unfinished");
            let tid = u64::from(client);
            events.push(span(CHECKOUTS, tid, &name, start, end, json!({})));
        }
        self.named_conns.sort_unstable();
        self.named_conns.dedup();
        for id in &self.named_conns {
            events.push(meta_thread(CONNECTIONS, *id, &format!("connection {id}")));
        }
        self.named_clients.sort_unstable();
        self.named_clients.dedup();
        for client in &self.named_clients {
            let tid = u64::from(*client);
            events.push(meta_thread(CHECKOUTS, tid, &format!("client {client}")));
        }
        events.push(meta_thread(HARNESS, 0, "faults and pool state"));
        events.push(meta_thread(HARNESS, 1, "violations"));
        let mut all = vec![
            meta_process(CONNECTIONS, "connections"),
            meta_process(CHECKOUTS, "checkouts"),
            meta_process(HARNESS, "harness"),
        ];
        all.append(&mut events);
        json!({ "traceEvents": all, "displayTimeUnit": "ms" })
    }
}

/// Writes the trace-event JSON of `records` to `path`.
///
/// # Errors
/// [`SimError::TraceWrite`].
pub fn write(records: &[TraceRecord], path: &Path) -> Result<(), SimError> {
    let wrap = |source| SimError::TraceWrite {
        path: path.display().to_string(),
        source,
    };
    let text = serde_json::to_string(&trace_events(records)).map_err(|e| wrap(e.into()))?;
    std::fs::write(path, text).map_err(wrap)
}

fn span(pid: u32, tid: u64, name: &str, start: u64, end: u64, args: Value) -> Value {
    json!({ "ph": "X", "pid": pid, "tid": tid, "name": name, "ts": start,
            "dur": end.saturating_sub(start), "args": args })
}

fn instant(pid: u32, tid: u64, name: &str, t: u64) -> Value {
    json!({ "ph": "i", "s": "t", "pid": pid, "tid": tid, "name": name, "ts": t })
}

fn meta_process(pid: u32, name: &str) -> Value {
    json!({ "ph": "M", "pid": pid, "tid": 0, "name": "process_name", "args": { "name": name } })
}

fn meta_thread(pid: u32, tid: u64, name: &str) -> Value {
    json!({ "ph": "M", "pid": pid, "tid": tid, "name": "thread_name", "args": { "name": name } })
}
