//! Goal: the client's handshake, commands, error mapping and timeouts work against a server
//! that speaks the wire protocol, and `WireManager` plugs into pool-core's pool.
//! Method: a tiny fake server task built on this crate's framing, over `tokio::io::duplex`
//! (and once over loopback TCP for the manager).

use std::time::Duration;

use bson::{doc, Bson, Document};
use pool_core::Pool;
use tokio::io::{duplex, AsyncRead, AsyncWrite, DuplexStream};
use tokio::sync::mpsc;
use wire::{
    read_message, write_message, ClientError, Connection, Message, OpMsg, Section, WireConfig,
    WireError, WireManager, DEFAULT_MAX_MESSAGE_SIZE,
};

/// How the fake server misbehaves, if at all.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// Answers with `responseTo` off by one.
    WrongResponseTo,
    /// Reads requests but never answers them.
    Silent,
    /// Closes the stream on the first request.
    Hangup,
}

/// Serves one connection: answers `hello`, `ping` and `insert`, refuses anything else
/// with 59 CommandNotFound, and reports every command it folded to `seen`.
async fn fake_server<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    fault: Fault,
    seen: mpsc::UnboundedSender<Document>,
) {
    let mut next_id = 1000;
    loop {
        let Ok((header, Message::Msg(request))) =
            read_message(&mut stream, DEFAULT_MAX_MESSAGE_SIZE).await
        else {
            return;
        };
        let command = request.into_command().expect("a well-formed command");
        let _ = seen.send(command.clone());
        let name = command.keys().next().cloned().unwrap_or_default();
        let reply = match name.as_str() {
            "hello" => doc! {
                "helloOk": true, "isWritablePrimary": true, "minWireVersion": 0, "maxWireVersion": 21,
                "maxBsonObjectSize": 16_777_216, "maxMessageSizeBytes": 48_000_000,
                "maxWriteBatchSize": 100_000, "logicalSessionTimeoutMinutes": 30,
                "connectionId": next_id as i64, "ok": 1.0,
            },
            "ping" => doc! { "ok": 1 },
            "insert" => {
                let n = command.get_array("documents").map_or(0, Vec::len) as i32;
                doc! { "n": n, "ok": 1 }
            }
            _ => doc! {
                "ok": 0.0, "errmsg": format!("no such command: '{name}'"), "code": 59,
                "codeName": "CommandNotFound", "errorLabels": ["Example"],
            },
        };
        let response_to = match fault {
            Fault::None => header.request_id,
            Fault::WrongResponseTo => header.request_id + 1,
            Fault::Silent => continue,
            Fault::Hangup => return,
        };
        next_id += 1;
        let reply = Message::Msg(OpMsg::command(reply));
        if write_message(&mut stream, &reply, next_id, response_to)
            .await
            .is_err()
        {
            return;
        }
    }
}

/// A client connection to a fake server task, plus the commands the server saw.
fn connect(fault: Fault) -> (Connection<DuplexStream>, mpsc::UnboundedReceiver<Document>) {
    let (client, server) = duplex(1024);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(fake_server(server, fault, tx));
    (Connection::new(client), rx)
}

#[tokio::test]
async fn handshake_sends_hello_and_parses_the_reply() {
    let (mut conn, mut seen) = connect(Fault::None);
    let hello = conn.handshake(Some("poolcheck-test")).await.unwrap();
    assert!(hello.is_writable_primary);
    assert!(hello.hello_ok);
    assert_eq!(hello.max_wire_version, 21);
    assert_eq!(hello.max_message_size_bytes, 48_000_000);
    assert_eq!(hello.logical_session_timeout_minutes, Some(30));
    assert_eq!(hello.connection_id, Some(1000));
    assert_eq!(conn.hello_reply(), Some(&hello));

    let sent = seen.recv().await.unwrap();
    assert_eq!(sent.get_i32("hello").unwrap(), 1);
    assert!(sent.get_bool("helloOk").unwrap());
    assert_eq!(sent.get_str("$db").unwrap(), "admin");
    let client = sent.get_document("client").unwrap();
    assert_eq!(
        client
            .get_document("application")
            .unwrap()
            .get_str("name")
            .unwrap(),
        "poolcheck-test"
    );
    assert_eq!(
        client
            .get_document("driver")
            .unwrap()
            .get_str("name")
            .unwrap(),
        "poolcheck"
    );
    assert!(client.get_document("os").unwrap().get_str("type").is_ok());
}

#[tokio::test]
async fn commands_succeed_and_fail_as_typed_results() {
    let (mut conn, mut seen) = connect(Fault::None);
    let reply = conn.run_command("test", doc! { "ping": 1 }).await.unwrap();
    assert_eq!(reply.get_i32("ok").unwrap(), 1);
    assert_eq!(
        seen.recv().await.unwrap().get_str("$db").unwrap(),
        "test",
        "$db is added"
    );

    let err = conn
        .run_command("test", doc! { "frobnicate": 1 })
        .await
        .unwrap_err();
    match &err {
        ClientError::Command {
            code,
            code_name,
            message,
            labels,
        } => {
            assert_eq!(*code, 59);
            assert_eq!(code_name, "CommandNotFound");
            assert!(message.contains("frobnicate"));
            assert_eq!(labels, &["Example".to_owned()]);
        }
        other => panic!("expected a command error, got {other:?}"),
    }
    assert!(
        !err.is_network_error(),
        "the connection stays usable after ok: 0"
    );
    conn.run_command("test", doc! { "ping": 1 }).await.unwrap();
}

#[tokio::test]
async fn document_sequences_reach_the_server_folded() {
    let (mut conn, mut seen) = connect(Fault::None);
    let request = OpMsg {
        sections: vec![
            Section::Body(doc! { "insert": "coll", "$db": "test" }),
            Section::Sequence {
                identifier: "documents".into(),
                documents: vec![doc! { "_id": 1 }, doc! { "_id": 2 }, doc! { "_id": 3 }],
            },
        ],
        ..OpMsg::command(Document::new())
    };
    let reply = conn.round_trip(request).await.unwrap();
    assert_eq!(reply.body().unwrap().get_i32("n").unwrap(), 3);
    let folded = seen.recv().await.unwrap();
    assert_eq!(
        folded.get_array("documents").unwrap()[2],
        Bson::Document(doc! { "_id": 3 })
    );
}

#[tokio::test]
async fn a_reply_to_another_request_is_a_protocol_error() {
    let (mut conn, _seen) = connect(Fault::WrongResponseTo);
    let err = conn
        .run_command("admin", doc! { "ping": 1 })
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Protocol(_)), "{err}");
    assert!(err.is_network_error());
}

#[tokio::test]
async fn a_hangup_is_a_wire_error() {
    let (mut conn, _seen) = connect(Fault::Hangup);
    let err = conn.handshake(None).await.unwrap_err();
    assert!(
        matches!(err, ClientError::Wire(WireError::ConnectionClosed)),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_times_out() {
    let (mut conn, _seen) = connect(Fault::Silent);
    conn.set_operation_timeout(Some(Duration::from_millis(500)));
    let err = conn
        .run_command("admin", doc! { "ping": 1 })
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Timeout(d) if d == Duration::from_millis(500)),
        "{err}"
    );
}

#[tokio::test]
async fn wire_manager_fills_a_pool_over_loopback_tcp() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, mut seen) = mpsc::unbounded_channel();
    let server = tokio::spawn(async move {
        // Serve exactly two connections, then stop accepting.
        for _ in 0..2 {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(fake_server(stream, Fault::None, tx.clone()));
        }
    });

    let config = WireConfig::new(address)
        .app_name("pooled")
        .connect_timeout(Duration::from_secs(5));
    let pool = Pool::builder(WireManager::new(config))
        .max_pool_size(2)
        .ready()
        .build()
        .unwrap();
    let mut first = pool.check_out().await.unwrap();
    let second = pool.check_out().await.unwrap();
    assert!(
        first.hello_reply().is_some() && second.hello_reply().is_some(),
        "each ran the handshake"
    );
    first
        .run_command("admin", doc! { "ping": 1 })
        .await
        .unwrap();
    for _ in 0..2 {
        let hello = seen.recv().await.unwrap();
        let client = hello.get_document("client").unwrap();
        assert_eq!(
            client
                .get_document("application")
                .unwrap()
                .get_str("name")
                .unwrap(),
            "pooled"
        );
    }
    drop((first, second));
    server.await.unwrap();

    // Nothing listens on a fresh port once its listener is gone: connecting fails as I/O.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = closed.local_addr().unwrap().to_string();
    drop(closed);
    let err = WireManager::new(WireConfig::new(address))
        .open()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Io(_)), "{err}");
}
