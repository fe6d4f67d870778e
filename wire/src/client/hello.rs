//! The `hello` handshake: the command a client sends and the reply it parses.

use bson::{doc, Bson, Document};

use crate::error::ClientError;

/// The client's `driver.name` in the handshake.
pub const DRIVER_NAME: &str = "poolcheck";

/// The `hello` command a connection opens with (to be sent as OP_MSG on `admin`).
///
/// `client.application.name` is what failCommand's `appName` filter matches, so it is
/// present only when `app_name` is given.
pub fn hello_command(app_name: Option<&str>) -> Document {
    let mut client = Document::new();
    if let Some(name) = app_name {
        client.insert("application", doc! { "name": name });
    }
    client.insert(
        "driver",
        doc! { "name": DRIVER_NAME, "version": env!("CARGO_PKG_VERSION") },
    );
    client.insert("os", doc! { "type": os_type() });
    doc! { "hello": 1, "helloOk": true, "client": client, "$db": "admin" }
}

/// What a server said about itself in its `hello` reply.
///
/// Fields a server left out take the defaults the MongoDB specs give them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HelloReply {
    /// `isWritablePrimary` (or legacy `ismaster`).
    pub is_writable_primary: bool,
    /// `helloOk`: the server accepts `hello` (not only `isMaster`).
    pub hello_ok: bool,
    /// `minWireVersion` (default 0).
    pub min_wire_version: i32,
    /// `maxWireVersion` (default 0).
    pub max_wire_version: i32,
    /// `maxBsonObjectSize` (default 16 MiB).
    pub max_bson_object_size: i64,
    /// `maxMessageSizeBytes` (default 48,000,000).
    pub max_message_size_bytes: i64,
    /// `maxWriteBatchSize` (default 100,000).
    pub max_write_batch_size: i64,
    /// `logicalSessionTimeoutMinutes`; absent means the server has no sessions.
    pub logical_session_timeout_minutes: Option<i64>,
    /// `connectionId`: the server's id for this connection.
    pub connection_id: Option<i64>,
    /// The whole reply.
    pub raw: Document,
}

impl HelloReply {
    /// Parses a `hello` (or `isMaster`) reply.
    ///
    /// # Errors
    /// [`ClientError::Command`] for `ok: 0`, [`ClientError::Protocol`] without `ok` or with
    /// a field of the wrong type.
    pub fn from_document(raw: Document) -> Result<HelloReply, ClientError> {
        let raw = check_ok(raw)?;
        let int = |key: &str, default: i64| -> Result<i64, ClientError> {
            raw.get(key).map_or(Ok(default), |value| {
                as_i64(value).ok_or_else(|| {
                    ClientError::Protocol(format!("hello field `{key}` is not a number"))
                })
            })
        };
        let wire = |key: &str| -> Result<i32, ClientError> {
            i32::try_from(int(key, 0)?)
                .map_err(|_| ClientError::Protocol(format!("hello field `{key}` is out of range")))
        };
        let optional = |key: &str| raw.get(key).and_then(as_i64);
        let flag = |key: &str| raw.get(key).is_some_and(is_truthy);
        Ok(HelloReply {
            is_writable_primary: flag("isWritablePrimary") || flag("ismaster"),
            hello_ok: flag("helloOk"),
            min_wire_version: wire("minWireVersion")?,
            max_wire_version: wire("maxWireVersion")?,
            max_bson_object_size: int("maxBsonObjectSize", 16 * 1024 * 1024)?,
            max_message_size_bytes: int("maxMessageSizeBytes", 48_000_000)?,
            max_write_batch_size: int("maxWriteBatchSize", 100_000)?,
            logical_session_timeout_minutes: optional("logicalSessionTimeoutMinutes"),
            connection_id: optional("connectionId"),
            raw,
        })
    }
}

/// Passes an `ok: 1` reply through and turns `ok: 0` into [`ClientError::Command`].
///
/// # Errors
/// [`ClientError::Command`] for a falsy `ok`, [`ClientError::Protocol`] without `ok`.
pub fn check_ok(reply: Document) -> Result<Document, ClientError> {
    let ok = reply
        .get("ok")
        .ok_or_else(|| ClientError::Protocol("reply has no `ok` field".into()))?;
    if is_truthy(ok) {
        return Ok(reply);
    }
    let text = |key: &str| reply.get_str(key).unwrap_or_default().to_owned();
    let code = reply
        .get("code")
        .and_then(as_i64)
        .and_then(|c| i32::try_from(c).ok());
    let labels = match reply.get_array("errorLabels") {
        Ok(labels) => labels
            .iter()
            .filter_map(|l| l.as_str().map(str::to_owned))
            .collect(),
        Err(_) => Vec::new(),
    };
    Err(ClientError::Command {
        code: code.unwrap_or(0),
        code_name: text("codeName"),
        message: text("errmsg"),
        labels,
    })
}

/// A BSON number as `i64` (doubles only when integral).
fn as_i64(value: &Bson) -> Option<i64> {
    match *value {
        Bson::Int32(v) => Some(i64::from(v)),
        Bson::Int64(v) => Some(v),
        Bson::Double(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Some(v as i64),
        _ => None,
    }
}

/// mongod's truthiness for `ok` and flags: true, or a non-zero number.
fn is_truthy(value: &Bson) -> bool {
    match *value {
        Bson::Boolean(b) => b,
        Bson::Int32(v) => v != 0,
        Bson::Int64(v) => v != 0,
        Bson::Double(v) => v != 0.0 && !v.is_nan(),
        _ => false,
    }
}

/// `client.os.type` as drivers spell it.
fn os_type() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        "windows" => "Windows",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_command_carries_the_app_name_only_when_given() {
        let with = hello_command(Some("app"));
        assert_eq!(with.get_i32("hello").unwrap(), 1);
        assert!(with.get_bool("helloOk").unwrap());
        assert_eq!(with.get_str("$db").unwrap(), "admin");
        let client = with.get_document("client").unwrap();
        assert_eq!(
            client
                .get_document("application")
                .unwrap()
                .get_str("name")
                .unwrap(),
            "app"
        );
        assert_eq!(
            client
                .get_document("driver")
                .unwrap()
                .get_str("name")
                .unwrap(),
            DRIVER_NAME
        );
        let without = hello_command(None);
        assert!(without
            .get_document("client")
            .unwrap()
            .get("application")
            .is_none());
    }

    #[test]
    fn hello_reply_parses_numbers_of_any_width_and_defaults() {
        let reply = HelloReply::from_document(doc! {
            "isWritablePrimary": true, "maxWireVersion": 21_i64, "minWireVersion": 0.0,
            "maxBsonObjectSize": 16_777_216, "connectionId": 7, "ok": 1.0,
        })
        .unwrap();
        assert!(reply.is_writable_primary);
        assert_eq!(reply.max_wire_version, 21);
        assert_eq!(reply.max_message_size_bytes, 48_000_000);
        assert_eq!(reply.connection_id, Some(7));
        assert_eq!(reply.logical_session_timeout_minutes, None);
        let bad = HelloReply::from_document(doc! { "maxWireVersion": "x", "ok": 1 });
        assert!(matches!(bad, Err(ClientError::Protocol(_))));
    }

    #[test]
    fn ok_zero_becomes_a_command_error() {
        let err = check_ok(doc! {
            "ok": 0.0, "code": 91, "codeName": "ShutdownInProgress", "errmsg": "bye",
            "errorLabels": ["RetryableWriteError"],
        })
        .unwrap_err();
        assert_eq!(err.code(), Some(91));
        assert!(err.has_label("RetryableWriteError"));
        assert!(!err.is_network_error());
        assert!(matches!(check_ok(doc! {}), Err(ClientError::Protocol(_))));
        assert!(check_ok(doc! { "ok": true }).is_ok());
    }
}
