//! `hello` (and its legacy names `isMaster`/`ismaster`): the handshake and the monitors'
//! heartbeat, with the fields the Rust, Python and Node drivers need.

use std::time::Duration;

use bson::{doc, oid::ObjectId, Bson, DateTime, Document};

use super::Client;
use crate::error::{code, CommandError};
use crate::limits::{
    AWAIT_TIME_MAX, BSON_OBJECT_SIZE_MAX, MESSAGE_SIZE_MAX, SESSION_TIMEOUT_MINUTES,
    WRITE_BATCH_SIZE_MAX,
};
use crate::query::compare::{as_f64, as_i64};
use crate::server::Server;

/// The `electionId` of the replica-set primary: mongod's shape (`0x7fffffff` then the
/// term), for term 1. It never changes, since the mock never holds an election.
const ELECTION_ID: ObjectId =
    ObjectId::from_bytes([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1]);

/// The hello reply. `name` is the name the client used: `hello` gets
/// `isWritablePrimary`, the legacy names get `ismaster`.
pub(super) fn hello(
    server: &Server,
    client: &Client,
    name: &str,
    body: &Document,
) -> Result<Document, CommandError> {
    let options = server.options();
    let mut reply = Document::new();
    if body.contains_key("helloOk") {
        reply.insert("helloOk", true);
    }
    if name == "hello" {
        reply.insert("isWritablePrimary", true);
    } else {
        reply.insert("ismaster", true);
    }
    if options.topology_version {
        reply.insert(
            "topologyVersion",
            doc! {"processId": server.process_id(), "counter": 0i64},
        );
    }
    if let Some(set_name) = &options.replica_set {
        // A one-member replica set whose only member is this (writable) primary.
        let host = options.host.as_str();
        reply.insert("hosts", vec![Bson::String(host.to_string())]);
        reply.insert("setName", set_name.as_str());
        reply.insert("setVersion", 1);
        reply.insert("secondary", false);
        reply.insert("primary", host);
        reply.insert("me", host);
        reply.insert("electionId", ELECTION_ID);
    }
    reply.insert("maxBsonObjectSize", BSON_OBJECT_SIZE_MAX);
    reply.insert("maxMessageSizeBytes", MESSAGE_SIZE_MAX);
    reply.insert("maxWriteBatchSize", WRITE_BATCH_SIZE_MAX);
    reply.insert("localTime", DateTime::now());
    reply.insert("logicalSessionTimeoutMinutes", SESSION_TIMEOUT_MINUTES);
    reply.insert("connectionId", number(client.id));
    reply.insert("minWireVersion", options.min_wire_version);
    reply.insert("maxWireVersion", options.max_wire_version);
    reply.insert("readOnly", false);
    Ok(reply)
}

/// Records the handshake's client metadata (`client.application.name` is what the fail
/// point's `appName` matches). mongod accepts the metadata only once per connection.
///
/// # Errors
/// `ClientMetadataCannotBeMutated` (186) if the connection already sent it.
pub(crate) fn record_metadata(client: &mut Client, body: &Document) -> Result<(), CommandError> {
    let Some(metadata) = body.get("client") else {
        return Ok(());
    };
    if client.metadata_seen {
        return Err(CommandError::new(
            code::CLIENT_METADATA_CANNOT_BE_MUTATED,
            "The client metadata document may only be sent in the first hello",
        ));
    }
    client.metadata_seen = true;
    let Bson::Document(metadata) = metadata else {
        return Err(CommandError::type_mismatch("'client' must be an object"));
    };
    client.app_name = metadata
        .get_document("application")
        .ok()
        .and_then(|app| app.get_str("name").ok())
        .map(str::to_string);
    Ok(())
}

/// For an awaitable hello (`topologyVersion` + `maxAwaitTimeMS`), how long to hold the
/// reply. `None` means reply at once: the request is not awaitable, or the client's
/// `processId` is not ours (it must learn the new topology now).
///
/// # Errors
/// mongod's checks: both fields or neither, a non-negative wait, and no counter from the
/// future.
pub(crate) fn await_time(
    server: &Server,
    body: &Document,
) -> Result<Option<Duration>, CommandError> {
    let topology = body.get("topologyVersion");
    let max_await = body.get("maxAwaitTimeMS");
    let (topology, max_await) = match (topology, max_await) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(CommandError::new(
                31368,
                "A request with a 'topologyVersion' must include 'maxAwaitTimeMS'",
            ))
        }
        (None, Some(_)) => {
            return Err(CommandError::new(
                31372,
                "A request with 'maxAwaitTimeMS' must include a 'topologyVersion'",
            ))
        }
        (Some(t), Some(m)) => (t, m),
    };
    let millis = as_f64(max_await).filter(|ms| *ms >= 0.0 && ms.fract() == 0.0);
    let Some(millis) = millis else {
        return Err(CommandError::new(
            31373,
            "maxAwaitTimeMS must be a non-negative integer",
        ));
    };
    let Bson::Document(topology) = topology else {
        return Err(CommandError::type_mismatch(
            "'topologyVersion' must be an object",
        ));
    };
    if !server.options().topology_version
        || topology.get_object_id("processId").ok() != Some(server.process_id())
    {
        return Ok(None);
    }
    let counter = topology.get("counter").and_then(as_i64).unwrap_or(0);
    if counter > 0 {
        return Err(CommandError::new(
            31382,
            "Received a topology version with the same process ID and larger counter than the server's topology version",
        ));
    }
    Ok(Some(
        Duration::from_millis(millis as u64).min(AWAIT_TIME_MAX),
    ))
}

/// A number as mongod's `appendNumber` writes it: int32 when it fits.
fn number(n: i64) -> Bson {
    i32::try_from(n).map_or(Bson::Int64(n), Bson::Int32)
}
