//! Goal: hostile or broken clients cost the mock server nothing but their own connection.
//! After each case the server still answers `ping` on a new connection, a document
//! stored before the case is still there, and every connection of the case has been
//! closed on the server side (`connections.current` is back to zero).
//!
//! Method: a `MockServer` on 127.0.0.1:0 and real loopback TCP. The cases write raw bytes
//! (garbage, bad length headers, truncated messages, a message one byte at a time) or
//! open and close 1,000 connections; the checks use poolcheck's wire client
//! (`wire::WireManager`). Each case runs on a fresh server in its own test, and all of
//! them run once more in turn against a single server. Waits poll a condition with a
//! deadline; the only sleeps are the pauses of the slow byte-by-byte client.

#[path = "common/eventually.rs"]
mod eventually;

use std::time::Duration;

use bson::{doc, Bson, Document};
use eventually::eventually;
use mock_server::{MockServer, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use wire::{read_message, Message, OpMsg, WireConfig, WireManager, DEFAULT_MAX_MESSAGE_SIZE};

/// How long the server may take to close a connection it must close, or to count a
/// connection as closed.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);
/// The database and collection of the document that must survive every case.
const DB: &str = "robust";
const COLL: &str = "keep";
/// The maximum message size the mock announces and enforces (mongod's).
const MAX_MESSAGE: i32 = 48_000_000;
/// OP_MSG.
const OP_MSG: i32 = 2013;

fn seed() -> Document {
    doc! {"_id": "seed", "payload": "must survive every case", "n": 42}
}

/// A mock server holding [`seed`], and a wire client for it.
struct Fixture {
    mock: MockServer,
    client: WireManager,
}

impl Fixture {
    async fn start() -> Fixture {
        let mock = MockServer::start(ServerOptions::default(), "127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let client = WireManager::new(
            WireConfig::new(mock.addr().to_string()).app_name("robustness-checker"),
        );
        let mut conn = client.open().await.expect("connect and handshake");
        let reply = conn
            .run_command(DB, doc! {"insert": COLL, "documents": [seed()]})
            .await
            .expect("insert the seed document");
        assert_eq!(number(reply.get("n")), Some(1), "{reply}");
        drop(conn);
        let fixture = Fixture { mock, client };
        fixture.assert_healthy("the seeding").await;
        fixture
    }

    /// The checks that follow every case.
    async fn assert_healthy(&self, case: &str) {
        let server = self.mock.server();
        eventually(CLOSE_WITHIN, || async {
            let current = server.connection_stats().current;
            if current == 0 {
                Ok(())
            } else {
                Err(format!("{current} connections still open"))
            }
        })
        .await
        .unwrap_or_else(|e| panic!("after {case}: the server closes every connection: {e}"));
        let mut conn = self
            .client
            .open()
            .await
            .unwrap_or_else(|e| panic!("after {case}: a new connection shakes hands: {e}"));
        let ping = conn
            .run_command("admin", doc! {"ping": 1})
            .await
            .unwrap_or_else(|e| panic!("after {case}: ping: {e}"));
        assert_eq!(number(ping.get("ok")), Some(1), "after {case}: {ping}");
        let found = conn
            .run_command(DB, doc! {"find": COLL, "filter": {}})
            .await
            .unwrap_or_else(|e| panic!("after {case}: find: {e}"));
        let batch = found
            .get_document("cursor")
            .and_then(|c| c.get_array("firstBatch"))
            .unwrap_or_else(|e| panic!("after {case}: a cursor reply: {e}: {found}"));
        assert_eq!(
            batch,
            &vec![Bson::Document(seed())],
            "after {case}: the stored document is intact"
        );
        assert_eq!(server.documents(DB, COLL), vec![seed()]);
    }

    async fn raw(&self) -> TcpStream {
        TcpStream::connect(self.mock.addr())
            .await
            .expect("TCP connect")
    }
}

fn number(value: Option<&Bson>) -> Option<i64> {
    match value? {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        Bson::Double(f) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

/// Reads until the server closes the connection (EOF or reset) and returns what it sent.
///
/// # Panics
/// If the server keeps the connection open for longer than [`CLOSE_WITHIN`].
async fn read_until_closed(stream: &mut TcpStream, case: &str) -> Vec<u8> {
    let mut received = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(CLOSE_WITHIN, read_all)
        .await
        .unwrap_or_else(|_| panic!("{case}: the server kept the connection open"));
    received
}

/// A 16-byte header claiming `length` bytes, as OP_MSG.
fn header(length: i32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16);
    for field in [length, 1, 0, OP_MSG] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    bytes
}

fn ping_bytes(request_id: i32) -> Vec<u8> {
    Message::Msg(OpMsg::command(doc! {"ping": 1, "$db": "admin"})).encode(request_id, 0)
}

/// The reply body of an OP_MSG in `bytes`.
fn decode_reply(bytes: &[u8]) -> Document {
    let (_, message) = Message::decode(bytes, DEFAULT_MAX_MESSAGE_SIZE).expect("a decodable reply");
    match message {
        Message::Msg(msg) => msg.into_command().expect("a reply body"),
        other => panic!("expected OP_MSG, got {other:?}"),
    }
}

// ===== the cases =====

#[derive(Clone, Copy, Debug)]
enum Case {
    GarbageBytes,
    OversizedLength,
    NegativeLength,
    UndersizedLength,
    TruncatedThenClose,
    ByteByByte,
    ThousandConnections,
}

const ALL_CASES: [Case; 7] = [
    Case::GarbageBytes,
    Case::OversizedLength,
    Case::NegativeLength,
    Case::UndersizedLength,
    Case::TruncatedThenClose,
    Case::ByteByByte,
    Case::ThousandConnections,
];

impl Case {
    async fn run(self, fixture: &Fixture) {
        match self {
            Case::GarbageBytes => garbage_bytes(fixture).await,
            Case::OversizedLength => oversized_length(fixture).await,
            Case::NegativeLength => negative_length(fixture).await,
            Case::UndersizedLength => undersized_length(fixture).await,
            Case::TruncatedThenClose => truncated_then_close(fixture).await,
            Case::ByteByByte => byte_by_byte(fixture).await,
            Case::ThousandConnections => thousand_connections(fixture).await,
        }
    }
}

async fn garbage_bytes(fixture: &Fixture) {
    // An HTTP request on the MongoDB port: "GET " read as a length is 542,393,671 bytes,
    // past the maximum, so the server closes at once without a reply.
    let mut http = fixture.raw().await;
    http.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let reply = read_until_closed(&mut http, "an HTTP request").await;
    assert!(
        reply.is_empty(),
        "no reply to an oversized frame: {reply:?}"
    );

    // A plausible length followed by junk: the frame is read, fails to decode, and gets
    // an error reply before the close (as mongod does).
    let mut junk = fixture.raw().await;
    let mut bytes = 64_i32.to_le_bytes().to_vec();
    bytes.extend((0..60u8).map(|i| i.wrapping_mul(37) ^ 0xA5));
    junk.write_all(&bytes).await.expect("write");
    let reply = read_until_closed(&mut junk, "junk with a valid length").await;
    let body = decode_reply(&reply);
    assert_eq!(number(body.get("ok")), Some(0), "{body}");

    // Random-looking bytes after a valid header, never completing the claimed length,
    // then a hang-up.
    let mut partial = fixture.raw().await;
    let mut bytes = header(1000);
    bytes.extend([0xFF; 100]);
    partial.write_all(&bytes).await.expect("write");
    partial.shutdown().await.expect("shutdown");
    let reply = read_until_closed(&mut partial, "a short body").await;
    assert!(reply.is_empty(), "{reply:?}");
}

async fn oversized_length(fixture: &Fixture) {
    for length in [MAX_MESSAGE + 1, i32::MAX] {
        // Only the header is sent: the server must reject it from the header alone,
        // without waiting for (or allocating) the body.
        let mut stream = fixture.raw().await;
        stream.write_all(&header(length)).await.expect("write");
        let reply = read_until_closed(&mut stream, &format!("length {length}")).await;
        assert!(reply.is_empty(), "length {length}: {reply:?}");
    }
    // The largest allowed length is not refused from the header alone: the server waits
    // for the body, and closes only when the client gives up.
    let mut stream = fixture.raw().await;
    stream.write_all(&header(MAX_MESSAGE)).await.expect("write");
    let early = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut [0u8; 16])).await;
    assert!(
        early.is_err(),
        "a frame of exactly the maximum size is waited for: {early:?}"
    );
    drop(stream);
}

async fn negative_length(fixture: &Fixture) {
    for length in [-1, -16, i32::MIN] {
        let mut stream = fixture.raw().await;
        let mut bytes = header(length);
        bytes.extend(ping_bytes(1).into_iter().skip(16));
        stream.write_all(&bytes).await.expect("write");
        let reply = read_until_closed(&mut stream, &format!("length {length}")).await;
        assert!(reply.is_empty(), "length {length}: {reply:?}");
    }
}

async fn undersized_length(fixture: &Fixture) {
    for length in [0, 4, 15] {
        let mut stream = fixture.raw().await;
        stream.write_all(&header(length)).await.expect("write");
        let reply = read_until_closed(&mut stream, &format!("length {length}")).await;
        assert!(reply.is_empty(), "length {length}: {reply:?}");
    }
}

async fn truncated_then_close(fixture: &Fixture) {
    let ping = ping_bytes(1);
    // Cut inside the header, and inside the body.
    for cut in [10, ping.len() / 2, ping.len() - 1] {
        let mut stream = fixture.raw().await;
        stream.write_all(&ping[..cut]).await.expect("write");
        stream.shutdown().await.expect("shutdown");
        let reply = read_until_closed(&mut stream, &format!("cut at {cut}")).await;
        assert!(
            reply.is_empty(),
            "no reply to a message cut at {cut}: {reply:?}"
        );
    }
    // A whole message followed by a truncated one: the first is answered.
    let mut stream = fixture.raw().await;
    let mut bytes = ping_bytes(7);
    bytes.extend_from_slice(&ping[..ping.len() / 2]);
    stream.write_all(&bytes).await.expect("write");
    stream.shutdown().await.expect("shutdown");
    let reply = read_until_closed(&mut stream, "whole then cut").await;
    let body = decode_reply(&reply);
    assert_eq!(number(body.get("ok")), Some(1), "{body}");
}

async fn byte_by_byte(fixture: &Fixture) {
    const TOTAL: Duration = Duration::from_millis(500);
    let request_id = 7;
    let bytes = ping_bytes(request_id);
    let pause = TOTAL / u32::try_from(bytes.len()).expect("small");
    let mut stream = fixture.raw().await;
    stream.set_nodelay(true).expect("nodelay");
    for byte in &bytes {
        stream.write_all(&[*byte]).await.expect("write one byte");
        stream.flush().await.expect("flush");
        // The pause *is* the case (a slow client), not a stand-in for synchronisation.
        tokio::time::sleep(pause).await;
    }
    let (header, reply) = tokio::time::timeout(
        CLOSE_WITHIN,
        read_message(&mut stream, DEFAULT_MAX_MESSAGE_SIZE),
    )
    .await
    .expect("an answer in time")
    .expect("a reply");
    assert_eq!(header.response_to, request_id);
    let Message::Msg(reply) = reply else {
        panic!("expected OP_MSG, got {reply:?}");
    };
    let body = reply.into_command().expect("body");
    assert_eq!(number(body.get("ok")), Some(1), "{body}");
    // The connection stays usable after the slow message.
    stream.write_all(&ping_bytes(8)).await.expect("write");
    let (header, _) = read_message(&mut stream, DEFAULT_MAX_MESSAGE_SIZE)
        .await
        .expect("second reply");
    assert_eq!(header.response_to, 8);
}

async fn thousand_connections(fixture: &Fixture) {
    const TOTAL: usize = 1_000;
    const BATCH: usize = 50;
    let server = fixture.mock.server();
    let created_before = server.connection_stats().total_created;
    let addr = fixture.mock.addr();
    for batch in 0..TOTAL / BATCH {
        let mut tasks = JoinSet::new();
        for i in 0..BATCH {
            tasks.spawn(async move {
                let mut stream = TcpStream::connect(addr).await.expect("connect");
                // Every fifth connection also runs a command before hanging up.
                if i % 5 == 0 {
                    stream.write_all(&ping_bytes(1)).await.expect("write");
                    let (header, _) = read_message(&mut stream, DEFAULT_MAX_MESSAGE_SIZE)
                        .await
                        .expect("reply");
                    assert_eq!(header.response_to, 1);
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.unwrap_or_else(|e| panic!("batch {batch}: {e}"));
        }
    }
    let created = eventually(CLOSE_WITHIN, || async {
        let created = server.connection_stats().total_created - created_before;
        if created == TOTAL as u64 {
            Ok(created)
        } else {
            Err(format!("{created} of {TOTAL} connections counted"))
        }
    })
    .await
    .expect("every connection is counted once");
    assert_eq!(created, TOTAL as u64);
}

// ===== the tests =====

async fn run_alone(case: Case) {
    let fixture = Fixture::start().await;
    case.run(&fixture).await;
    fixture.assert_healthy(&format!("{case:?}")).await;
    fixture.mock.shutdown().await;
}

#[tokio::test]
async fn garbage_bytes_cost_only_their_connection() {
    run_alone(Case::GarbageBytes).await;
}

#[tokio::test]
async fn oversized_length_is_refused_from_the_header() {
    run_alone(Case::OversizedLength).await;
}

#[tokio::test]
async fn negative_length_is_refused() {
    run_alone(Case::NegativeLength).await;
}

#[tokio::test]
async fn undersized_length_is_refused() {
    run_alone(Case::UndersizedLength).await;
}

#[tokio::test]
async fn truncated_message_then_close() {
    run_alone(Case::TruncatedThenClose).await;
}

#[tokio::test]
async fn byte_by_byte_client_is_answered() {
    run_alone(Case::ByteByByte).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_connections_opened_and_closed() {
    run_alone(Case::ThousandConnections).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_survives_every_case_in_turn() {
    let fixture = Fixture::start().await;
    for case in ALL_CASES {
        case.run(&fixture).await;
        fixture.assert_healthy(&format!("{case:?}")).await;
    }
    let stats = fixture.mock.server().connection_stats();
    assert!(stats.total_created > 1_000, "{stats:?}");
    fixture.mock.shutdown().await;
}
