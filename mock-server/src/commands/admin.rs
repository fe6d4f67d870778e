//! Server-level commands: `buildInfo`, `serverStatus`, `connectionStatus`, the test
//! command `sleep` and the mock's own `poolcheckFault`.

use std::time::Duration;

use bson::{doc, Bson, DateTime, Document};

use super::args;
use crate::error::{code, CommandError};
use crate::faults::FaultCommand;
use crate::limits::{BSON_OBJECT_SIZE_MAX, SLEEP_MAX};
use crate::server::Server;

/// The version the mock reports (matching `maxWireVersion` 21).
pub(crate) const VERSION: &str = "7.0.0";

pub(super) fn build_info() -> Document {
    doc! {
        "version": VERSION,
        "gitVersion": "poolcheck-mock-server",
        "versionArray": [7, 0, 0, 0],
        "modules": [],
        "allocator": "system",
        "javascriptEngine": "none",
        "sysInfo": "deprecated",
        "bits": 64,
        "debug": false,
        "maxBsonObjectSize": BSON_OBJECT_SIZE_MAX,
        "storageEngines": ["inMemory"],
    }
}

/// serverStatus with the sections a pool checker reads. `connections` follows mongod's
/// field names; `current` counts the connection that asks.
pub(super) fn server_status(server: &Server) -> Document {
    let stats = server.connection_stats();
    let uptime = server.uptime();
    doc! {
        "host": server.options().host.as_str(),
        "version": VERSION,
        "process": "mongod",
        "pid": i64::from(std::process::id()),
        "uptime": uptime.as_secs_f64().floor(),
        "uptimeMillis": i64::try_from(uptime.as_millis()).unwrap_or(i64::MAX),
        "uptimeEstimate": i64::try_from(uptime.as_secs()).unwrap_or(i64::MAX),
        "localTime": DateTime::now(),
        "connections": {
            "current": number(stats.current),
            "available": number(stats.available),
            "totalCreated": number(stats.total_created),
            "rejected": number(stats.rejected),
            "active": number(stats.active),
            "threaded": number(stats.current),
            "exhaustIsMaster": 0,
            "exhaustHello": 0,
            "awaitingTopologyChanges": number(stats.awaiting_topology_changes),
        },
        "metrics": {
            "cursor": {"open": {"total": number(server.open_cursors() as u64)}},
        },
    }
}

pub(super) fn connection_status() -> Document {
    doc! {"authInfo": {"authenticatedUsers": [], "authenticatedUserRoles": []}}
}

/// `{poolcheckFault: "set" | "clear" | "get" | "restart", ...}` on admin.
pub(super) fn poolcheck_fault(server: &Server, body: &Document) -> Result<Document, CommandError> {
    match FaultCommand::parse(body)? {
        FaultCommand::Set(fields) => {
            let mut faults = server.faults();
            faults.merge(&fields)?;
            tracing::info!(?faults, "faults set");
            server.set_faults(faults);
        }
        FaultCommand::Clear => {
            tracing::info!("faults cleared");
            server.set_faults(crate::faults::Faults::default());
        }
        FaultCommand::Get => {}
        FaultCommand::Restart { drop_data } => server.restart(drop_data),
    }
    Ok(doc! {"faults": server.faults().to_document()})
}

/// A counter as mongod appends it: int32 when it fits.
fn number(n: u64) -> Bson {
    i32::try_from(n).map_or_else(
        |_| Bson::Int64(i64::try_from(n).unwrap_or(i64::MAX)),
        Bson::Int32,
    )
}

/// The wait of mongod's test command `{sleep: 1, millis: N}` (admin only; the connection
/// holds it, so a driver's pool sees a connection kept busy for `millis`): at most
/// [`SLEEP_MAX`], 10 ms when `millis` is absent, as mongod's default.
///
/// # Errors
/// `TypeMismatch` for a `millis` that is not a whole number; `BadValue` (2) for a negative
/// one or one beyond [`SLEEP_MAX`].
pub(crate) fn sleep_millis(body: &Document) -> Result<Duration, CommandError> {
    let millis = args::integer(body, "sleep", "millis")?.unwrap_or(10);
    let max = i64::try_from(SLEEP_MAX.as_millis()).unwrap_or(i64::MAX);
    if !(0..=max).contains(&millis) {
        return Err(CommandError::new(
            code::BAD_VALUE,
            format!("sleep: 'millis' must be between 0 and {max}, got {millis}"),
        ));
    }
    Ok(Duration::from_millis(millis.unsigned_abs()))
}
