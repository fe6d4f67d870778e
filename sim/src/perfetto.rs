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
    let mut events = vec![
        meta_process(CONNECTIONS, "connections"),
        meta_process(CHECKOUTS, "checkouts"),
        meta_process(HARNESS, "harness"),
    ];
    let mut conn_spans: BTreeMap<u64, (&'static str, u64)> = BTreeMap::new();
    let mut checkout_spans: BTreeMap<u64, (u32, u64)> = BTreeMap::new();
    let mut named_conns = Vec::new();
    let mut named_clients = Vec::new();
    let end = records.last().map_or(0, |r| r.t_us);
    let mut close_conn = |events: &mut Vec<Value>, id: u64, t: u64, next: Option<&'static str>| {
        if let Some((name, start)) = conn_spans.remove(&id) {
            events.push(span(CONNECTIONS, id, name, start, t, json!({})));
        }
        if let Some(name) = next {
            conn_spans.insert(id, (name, t));
        }
    };
    for r in records {
        let t = r.t_us;
        match &r.record {
            Record::Pool { event } => match *event {
                PoolEvent::ConnectionCreated { id } => {
                    named_conns.push(id);
                    close_conn(&mut events, id, t, Some("pending"));
                }
                PoolEvent::ConnectionReady { id }
                | PoolEvent::CheckedIn { id }
                | PoolEvent::ConnectionValidated { id } => {
                    close_conn(&mut events, id, t, Some("available"))
                }
                PoolEvent::ConnectionValidating { id } => {
                    close_conn(&mut events, id, t, Some("validating"))
                }
                PoolEvent::CheckedOut { id } => close_conn(&mut events, id, t, Some("in use")),
                PoolEvent::ConnectionClosed { id, reason } => {
                    close_conn(&mut events, id, t, None);
                    events.push(instant(CONNECTIONS, id, &format!("closed ({reason:?})"), t));
                }
                PoolEvent::PoolCleared { interrupt } => events.push(instant(
                    HARNESS,
                    0,
                    &format!("PoolCleared interrupt={interrupt}"),
                    t,
                )),
                PoolEvent::PoolReady => events.push(instant(HARNESS, 0, "PoolReady", t)),
                PoolEvent::PoolClosed => events.push(instant(HARNESS, 0, "PoolClosed", t)),
                PoolEvent::CheckOutStarted | PoolEvent::CheckOutFailed { .. } => {}
            },
            Record::CheckoutBegan {
                checkout, client, ..
            } => {
                named_clients.push(*client);
                checkout_spans.insert(*checkout, (*client, t));
            }
            Record::CheckoutEnded {
                checkout,
                outcome,
                id,
            } => {
                if let Some((client, start)) = checkout_spans.remove(checkout) {
                    let name = format!("checkout {checkout}: {outcome}");
                    let args = json!({ "connection": id });
                    events.push(span(CHECKOUTS, u64::from(client), &name, start, t, args));
                }
            }
            Record::Harness { action } => events.push(instant(HARNESS, 0, action, t)),
            Record::Violation { invariant, message } => events.push(instant(
                HARNESS,
                1,
                &format!("VIOLATION {invariant}: {message}"),
                t,
            )),
            _ => {}
        }
    }
    for (id, (name, start)) in std::mem::take(&mut conn_spans) {
        events.push(span(CONNECTIONS, id, name, start, end, json!({})));
    }
    for (checkout, (client, start)) in checkout_spans {
        let name = format!("checkout {checkout}: unfinished");
        events.push(span(
            CHECKOUTS,
            u64::from(client),
            &name,
            start,
            end,
            json!({}),
        ));
    }
    named_conns.sort_unstable();
    named_conns.dedup();
    for id in named_conns {
        events.push(meta_thread(CONNECTIONS, id, &format!("connection {id}")));
    }
    named_clients.sort_unstable();
    named_clients.dedup();
    for client in named_clients {
        let tid = u64::from(client);
        events.push(meta_thread(CHECKOUTS, tid, &format!("client {client}")));
    }
    events.push(meta_thread(HARNESS, 0, "faults and pool state"));
    events.push(meta_thread(HARNESS, 1, "violations"));
    json!({ "traceEvents": events, "displayTimeUnit": "ms" })
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
