//! A driver's CMAP events, as its script writes them (one JSON object per line), read into
//! the oracle's [`PoolEvent`]s with their times.
//!
//! A line is `{"t_us": 1234, "type": "ConnectionCheckedOut", "connection_id": 3}`, with
//! `reason` for `ConnectionClosed` and `ConnectionCheckOutFailed` and `interrupt` for
//! `ConnectionPoolCleared`. Type names and reasons are CMAP's spellings. A line that cannot
//! be read is kept as a problem (the script or the process is at fault, not the pool); a
//! last line cut short by a killed process is one.

use std::time::Duration;

use pool_core::{ConnectionCheckOutFailedReason, ConnectionClosedReason};
use serde::Deserialize;
use sim::PoolEvent;

/// The events read from one log.
#[derive(Debug, Default, Clone)]
pub struct EventLog {
    /// Each judged event with its time on the driver's clock, in the log's order.
    pub events: Vec<(Duration, PoolEvent)>,
    /// Lines of events the oracle does not judge (`ConnectionPoolCreated`).
    pub skipped: u64,
    /// Lines that could not be read, with their line number (at most [`PROBLEMS_MAX`]).
    pub problems: Vec<String>,
}

/// The most unreadable lines an [`EventLog`] keeps.
pub const PROBLEMS_MAX: usize = 10;

#[derive(Debug, Deserialize)]
struct Line {
    t_us: u64,
    #[serde(rename = "type")]
    kind: String,
    connection_id: Option<u64>,
    reason: Option<String>,
    interrupt: Option<bool>,
}

impl EventLog {
    /// Reads a whole log.
    pub fn parse(text: &str) -> EventLog {
        let mut log = EventLog::default();
        for (n, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let outcome = serde_json::from_str::<Line>(raw)
                .map_err(|e| e.to_string())
                .and_then(|line| Ok((line.t_us, translate(&line)?)));
            match outcome {
                Ok((t_us, Some(event))) => log.events.push((Duration::from_micros(t_us), event)),
                Ok((_, None)) => log.skipped += 1,
                Err(why) if log.problems.len() < PROBLEMS_MAX => {
                    log.problems.push(format!("line {}: {why}", n + 1));
                }
                Err(_) => {}
            }
        }
        log
    }
}

impl EventLog {
    /// The events as lines of the scripts' format (for the Rust driver's log, written by
    /// this process).
    pub fn to_jsonl(&self) -> String {
        let mut text = String::new();
        for (at, event) in &self.events {
            text.push_str(&line_of(*at, event).to_string());
            text.push('\n');
        }
        text
    }
}

/// One event as a line of the scripts' format.
fn line_of(at: Duration, event: &PoolEvent) -> serde_json::Value {
    let t_us = u64::try_from(at.as_micros()).unwrap_or(u64::MAX);
    let (kind, id, reason, interrupt) = match event {
        PoolEvent::PoolReady => ("ConnectionPoolReady", None, None, None),
        PoolEvent::PoolCleared { interrupt } => {
            ("ConnectionPoolCleared", None, None, Some(*interrupt))
        }
        PoolEvent::PoolClosed => ("ConnectionPoolClosed", None, None, None),
        PoolEvent::ConnectionCreated { id } => ("ConnectionCreated", Some(*id), None, None),
        PoolEvent::ConnectionReady { id } => ("ConnectionReady", Some(*id), None, None),
        PoolEvent::ConnectionClosed { id, reason } => {
            let reason = match reason {
                ConnectionClosedReason::Stale => "stale",
                ConnectionClosedReason::Idle => "idle",
                ConnectionClosedReason::PoolClosed => "poolClosed",
                _ => "error",
            };
            ("ConnectionClosed", Some(*id), Some(reason), None)
        }
        PoolEvent::CheckOutStarted => ("ConnectionCheckOutStarted", None, None, None),
        PoolEvent::CheckOutFailed { reason } => {
            let reason = match reason {
                ConnectionCheckOutFailedReason::Timeout => "timeout",
                ConnectionCheckOutFailedReason::PoolClosed => "poolClosed",
                _ => "connectionError",
            };
            ("ConnectionCheckOutFailed", None, Some(reason), None)
        }
        PoolEvent::CheckedOut { id } => ("ConnectionCheckedOut", Some(*id), None, None),
        PoolEvent::CheckedIn { id } => ("ConnectionCheckedIn", Some(*id), None, None),
        // Not CMAP: a pool's own validation of an idle connection (no driver reports it).
        PoolEvent::ConnectionValidating { id } => ("ConnectionValidating", Some(*id), None, None),
        PoolEvent::ConnectionValidated { id } => ("ConnectionValidated", Some(*id), None, None),
        PoolEvent::LeakSuspected { id } => ("ConnectionLeakSuspected", Some(*id), None, None),
        PoolEvent::LeakReturned { id } => ("ConnectionLeakReturned", Some(*id), None, None),
    };
    let mut line = serde_json::json!({ "t_us": t_us, "type": kind });
    if let Some(id) = id {
        line["connection_id"] = id.into();
    }
    if let Some(reason) = reason {
        line["reason"] = reason.into();
    }
    if let Some(interrupt) = interrupt {
        line["interrupt"] = interrupt.into();
    }
    line
}

/// One line as a [`PoolEvent`]; `None` for `ConnectionPoolCreated`.
fn translate(line: &Line) -> Result<Option<PoolEvent>, String> {
    let id = || {
        line.connection_id
            .ok_or_else(|| format!("{} without a connection_id", line.kind))
    };
    Ok(Some(match line.kind.as_str() {
        "ConnectionPoolCreated" => return Ok(None),
        "ConnectionPoolReady" => PoolEvent::PoolReady,
        "ConnectionPoolCleared" => PoolEvent::PoolCleared {
            interrupt: line.interrupt.unwrap_or(false),
        },
        "ConnectionPoolClosed" => PoolEvent::PoolClosed,
        "ConnectionCreated" => PoolEvent::ConnectionCreated { id: id()? },
        "ConnectionReady" => PoolEvent::ConnectionReady { id: id()? },
        "ConnectionClosed" => PoolEvent::ConnectionClosed {
            id: id()?,
            reason: closed_reason(line.reason.as_deref()),
        },
        "ConnectionCheckOutStarted" => PoolEvent::CheckOutStarted,
        "ConnectionCheckOutFailed" => PoolEvent::CheckOutFailed {
            reason: match line.reason.as_deref() {
                Some("timeout") => ConnectionCheckOutFailedReason::Timeout,
                Some("poolClosed") => ConnectionCheckOutFailedReason::PoolClosed,
                _ => ConnectionCheckOutFailedReason::ConnectionError,
            },
        },
        "ConnectionCheckedOut" => PoolEvent::CheckedOut { id: id()? },
        "ConnectionCheckedIn" => PoolEvent::CheckedIn { id: id()? },
        "ConnectionValidating" => PoolEvent::ConnectionValidating { id: id()? },
        "ConnectionValidated" => PoolEvent::ConnectionValidated { id: id()? },
        "ConnectionLeakSuspected" => PoolEvent::LeakSuspected { id: id()? },
        "ConnectionLeakReturned" => PoolEvent::LeakReturned { id: id()? },
        other => return Err(format!("unknown event type '{other}'")),
    }))
}

/// CMAP's close reasons; anything else (a driver's own, such as the Rust driver's
/// `dropped`) counts as `error`, which no invariant judged here treats specially.
fn closed_reason(reason: Option<&str>) -> ConnectionClosedReason {
    match reason {
        Some("stale") => ConnectionClosedReason::Stale,
        Some("idle") => ConnectionClosedReason::Idle,
        Some("poolClosed") => ConnectionClosedReason::PoolClosed,
        _ => ConnectionClosedReason::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cmap_event_is_read() {
        let text = r#"{"t_us": 1, "type": "ConnectionPoolCreated"}
{"t_us": 2, "type": "ConnectionPoolReady"}
{"t_us": 3, "type": "ConnectionCheckOutStarted"}
{"t_us": 4, "type": "ConnectionCreated", "connection_id": 1}
{"t_us": 5, "type": "ConnectionReady", "connection_id": 1}
{"t_us": 6, "type": "ConnectionCheckedOut", "connection_id": 1}
{"t_us": 7, "type": "ConnectionPoolCleared", "interrupt": true}
{"t_us": 8, "type": "ConnectionCheckedIn", "connection_id": 1}
{"t_us": 9, "type": "ConnectionClosed", "connection_id": 1, "reason": "stale"}
{"t_us": 10, "type": "ConnectionCheckOutFailed", "reason": "timeout"}

{"t_us": 11, "type": "ConnectionPoolClosed"}
"#;
        let log = EventLog::parse(text);
        assert!(log.problems.is_empty(), "{:?}", log.problems);
        assert_eq!(log.skipped, 1);
        assert_eq!(log.events.len(), 10);
        assert_eq!(
            log.events[0],
            (Duration::from_micros(2), PoolEvent::PoolReady)
        );
        assert_eq!(log.events[5].1, PoolEvent::PoolCleared { interrupt: true });
        assert_eq!(
            log.events[7].1,
            PoolEvent::ConnectionClosed {
                id: 1,
                reason: ConnectionClosedReason::Stale
            }
        );
        assert_eq!(
            log.events[8].1,
            PoolEvent::CheckOutFailed {
                reason: ConnectionCheckOutFailedReason::Timeout
            }
        );
    }

    #[test]
    fn unreadable_lines_are_problems_not_events() {
        let text = "{\"t_us\": 1, \"type\": \"ConnectionReady\"}\n\
                    {\"t_us\": 2, \"type\": \"Bogus\"}\n\
                    not json\n\
                    {\"t_us\": 3, \"type\": \"ConnectionCheckedIn\", \"connection_id\": 4}\n\
                    {\"t_us\": 4, \"type\": \"Connecti";
        let log = EventLog::parse(text);
        assert_eq!(log.events.len(), 1);
        assert_eq!(log.problems.len(), 4, "{:?}", log.problems);
        assert!(log.problems[0].starts_with("line 1: ConnectionReady without"));
        assert!(log.problems[1].contains("unknown event type 'Bogus'"));
    }

    #[test]
    fn a_log_written_by_this_process_reads_back_the_same() {
        let text = "{\"t_us\": 2, \"type\": \"ConnectionPoolReady\"}\n\
                    {\"t_us\": 4, \"type\": \"ConnectionCreated\", \"connection_id\": 1}\n\
                    {\"t_us\": 7, \"type\": \"ConnectionPoolCleared\", \"interrupt\": false}\n\
                    {\"t_us\": 9, \"type\": \"ConnectionClosed\", \"connection_id\": 1, \"reason\": \"stale\"}\n\
                    {\"t_us\": 10, \"type\": \"ConnectionCheckOutFailed\", \"reason\": \"timeout\"}\n";
        let log = EventLog::parse(text);
        assert_eq!(log.events.len(), 5);
        let again = EventLog::parse(&log.to_jsonl());
        assert_eq!(again.events, log.events);
        assert!(again.problems.is_empty());
    }

    #[test]
    fn unknown_close_reasons_count_as_errors() {
        assert_eq!(
            closed_reason(Some("dropped")),
            ConnectionClosedReason::Error
        );
        assert_eq!(closed_reason(None), ConnectionClosedReason::Error);
        assert_eq!(closed_reason(Some("idle")), ConnectionClosedReason::Idle);
    }
}
