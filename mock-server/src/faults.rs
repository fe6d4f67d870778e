//! Connection-level faults: what a flaky network or an overloaded mongod does to a pool,
//! beyond what `failCommand` can express.
//!
//! Set them with CLI flags, [`crate::Server::set_faults`], or the admin command
//! `{poolcheckFault: "set" | "clear" | "get" | "restart", ...}`:
//!
//! | field (command / [`Faults`]) | effect |
//! |---|---|
//! | `refuseConnections` / `refuse_connections` | accept, then close at once (counted as rejected) |
//! | `acceptDelayMS` / `accept_delay` | hold each new connection this long before serving it |
//! | `maxIncomingConnections` / `max_incoming_connections` | close connections beyond this many, as mongod's limit does |
//! | `blackHole` / `black_hole` | read requests but never answer them |
//! | `latencyMS` / `latency` | sleep this long before every reply |
//! | `resetAfterBytes` / `reset_after_bytes` | close a connection once it has written this many bytes (cutting the reply that crosses it) |
//! | `resetMidReply` / `reset_mid_reply` | the next N replies are cut in half and their connections closed |
//!
//! `{poolcheckFault: "restart", dropData: bool}` drops every open connection, kills all
//! cursors, turns fail points off, and takes a new `topologyVersion.processId`, as a mongod
//! restart would (the data survives unless `dropData` is true).
//!
//! The control commands themselves (`poolcheckFault`, `configureFailPoint`) are exempt
//! from black-holing, latency and cut replies, so a harness can always undo a fault.

use std::time::Duration;

use bson::{doc, Bson, Document};

use crate::error::CommandError;
use crate::limits::BLOCK_TIME_MAX;
use crate::query::compare::{as_f64, truthy};

/// The connection-level fault settings. `Faults::default()` is a healthy server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Close every new connection at once.
    pub refuse_connections: bool,
    /// Hold every new connection this long before reading from it.
    pub accept_delay: Duration,
    /// Close new connections beyond this many established ones (mongod's
    /// `maxIncomingConnections`); `None` is mongod's default of 1,000,000.
    pub max_incoming_connections: Option<u32>,
    /// Swallow every request without answering.
    pub black_hole: bool,
    /// Sleep this long before every reply.
    pub latency: Duration,
    /// Close a connection once it has written this many bytes in total.
    pub reset_after_bytes: Option<u64>,
    /// Cut the next this-many replies in half and close their connections.
    pub reset_mid_reply: u32,
}

/// What a `poolcheckFault` command asks for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FaultCommand {
    /// Merge the given fields into the settings.
    Set(Document),
    /// Back to a healthy server.
    Clear,
    /// Report the settings.
    Get,
    /// Drop every connection (and the data if asked).
    Restart {
        /// Whether the stored documents are dropped too.
        drop_data: bool,
    },
}

impl Faults {
    /// The settings as the `poolcheckFault` reply shows them.
    pub fn to_document(&self) -> Document {
        doc! {
            "refuseConnections": self.refuse_connections,
            "acceptDelayMS": millis(self.accept_delay),
            "maxIncomingConnections": self.max_incoming_connections.map_or(Bson::Null, |n| Bson::Int64(i64::from(n))),
            "blackHole": self.black_hole,
            "latencyMS": millis(self.latency),
            "resetAfterBytes": self.reset_after_bytes.map_or(Bson::Null, |n| Bson::Int64(i64::try_from(n).unwrap_or(i64::MAX))),
            "resetMidReply": i64::from(self.reset_mid_reply),
        }
    }

    /// Merges the fields of a `poolcheckFault: "set"` command. Unknown fields are errors,
    /// so a typo does not silently leave a fault off.
    ///
    /// # Errors
    /// `BadValue` for an unknown field or a value of the wrong kind.
    pub fn merge(&mut self, fields: &Document) -> Result<(), CommandError> {
        let mut next = self.clone();
        for (key, value) in fields {
            match key.as_str() {
                // The action itself and the metadata drivers add to every command.
                k if k.starts_with('$') => {}
                "poolcheckFault"
                | "lsid"
                | "apiVersion"
                | "apiStrict"
                | "apiDeprecationErrors"
                | "comment"
                | "maxTimeMS" => {}
                "refuseConnections" => next.refuse_connections = truthy(value),
                "acceptDelayMS" => next.accept_delay = duration(key, value)?,
                "maxIncomingConnections" => {
                    next.max_incoming_connections =
                        optional_count(key, value)?.map(|n| u32::try_from(n).unwrap_or(u32::MAX))
                }
                "blackHole" => next.black_hole = truthy(value),
                "latencyMS" => next.latency = duration(key, value)?,
                "resetAfterBytes" => next.reset_after_bytes = optional_count(key, value)?,
                "resetMidReply" => {
                    next.reset_mid_reply =
                        u32::try_from(optional_count(key, value)?.unwrap_or(0)).unwrap_or(u32::MAX)
                }
                other => {
                    return Err(CommandError::bad_value(format!(
                        "unknown poolcheckFault field '{other}'"
                    )))
                }
            }
        }
        *self = next;
        Ok(())
    }
}

impl FaultCommand {
    /// Parses `{poolcheckFault: <action>, ...}`.
    pub(crate) fn parse(body: &Document) -> Result<FaultCommand, CommandError> {
        match body.get("poolcheckFault") {
            Some(Bson::String(action)) => match action.as_str() {
                "set" => {
                    let mut probe = Faults::default();
                    probe.merge(body)?;
                    Ok(FaultCommand::Set(body.clone()))
                }
                "clear" => Ok(FaultCommand::Clear),
                "get" => Ok(FaultCommand::Get),
                "restart" => Ok(FaultCommand::Restart {
                    drop_data: body.get("dropData").is_some_and(truthy),
                }),
                other => Err(CommandError::bad_value(format!(
                    "unknown poolcheckFault action '{other}' (expected set, clear, get or restart)"
                ))),
            },
            _ => Err(CommandError::type_mismatch(
                "poolcheckFault must be one of \"set\", \"clear\", \"get\", \"restart\"",
            )),
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn duration(key: &str, value: &Bson) -> Result<Duration, CommandError> {
    let ms = optional_count(key, value)?.unwrap_or(0);
    Ok(Duration::from_millis(ms).min(BLOCK_TIME_MAX))
}

/// A non-negative whole number; `null` (and 0 for limits) means "none".
fn optional_count(key: &str, value: &Bson) -> Result<Option<u64>, CommandError> {
    if matches!(value, Bson::Null) {
        return Ok(None);
    }
    match as_f64(value) {
        Some(n) if n >= 0.0 && n.fract() == 0.0 => Ok(Some(n as u64)),
        _ => Err(CommandError::bad_value(format!(
            "'{key}' must be a non-negative whole number or null"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_merges_and_reports() {
        let mut faults = Faults::default();
        faults
            .merge(&doc! {"poolcheckFault": "set", "latencyMS": 25, "maxIncomingConnections": 3, "blackHole": true})
            .expect("valid");
        assert_eq!(faults.latency, Duration::from_millis(25));
        assert_eq!(faults.max_incoming_connections, Some(3));
        assert!(faults.black_hole);
        let shown = faults.to_document();
        assert_eq!(shown.get_i64("latencyMS"), Ok(25));
        faults
            .merge(&doc! {"maxIncomingConnections": Bson::Null})
            .expect("valid");
        assert_eq!(faults.max_incoming_connections, None);
    }

    #[test]
    fn typos_and_bad_values_are_rejected() {
        let mut faults = Faults::default();
        assert!(faults.merge(&doc! {"latencyMs": 5}).is_err());
        assert!(faults.merge(&doc! {"latencyMS": -5}).is_err());
        assert_eq!(faults, Faults::default(), "a failed merge changes nothing");
        assert!(FaultCommand::parse(&doc! {"poolcheckFault": "explode"}).is_err());
        assert_eq!(
            FaultCommand::parse(&doc! {"poolcheckFault": "restart", "dropData": true}),
            Ok(FaultCommand::Restart { drop_data: true })
        );
    }
}
