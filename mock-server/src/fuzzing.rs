//! Entry point for the `server_session` fuzz target and its regression tests (not a
//! stable API; compiled only with the `fuzzing` feature).
//!
//! [`check_session`] feeds arbitrary bytes to [`serve_connection`] as one client's whole
//! stream, over a `tokio::io::duplex` pipe, between two well-formed sessions, and checks
//! that the server survived it: no panic, the reply stream is well framed, the counters
//! are exact afterwards, and the other sessions still get correct answers.
//!
//! It must run on a Tokio runtime with the time driver *paused*
//! (`Builder::new_current_thread().enable_time().start_paused(true)`): fail point blocks,
//! added latency and awaitable hellos the fuzz input asks for then cost no wall time.

use std::sync::Arc;

use bson::{doc, Bson, Document};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;
use wire::{read_message, write_message, Message, OpMsg};

use crate::{serve_connection, ConnectionEnd, Faults, Server, ServerOptions};

/// The database the well-formed sessions use. Inputs that mention `witness` may touch it,
/// and the data checks are skipped for them.
const WITNESS_DB: &str = "fuzz_witness";
const PIPE: usize = 64 * 1024;

/// What happened to the fuzz session (for statistics; every check already passed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReport {
    /// Why the server ended the fuzz session.
    pub end: ConnectionEnd,
    /// How many complete replies the server wrote to it.
    pub replies: usize,
    /// True if the input restarted the server (`poolcheckFault: "restart"`).
    pub restarted: bool,
}

/// The `server_session` fuzz target: arbitrary bytes as one client's whole stream into
/// the mock server's connection handler ([`serve_connection`]), through a
/// `tokio::io::duplex` pipe on a current-thread runtime with a paused clock (fail point
/// blocks, latency faults and awaitable hellos cost no wall time).
///
/// [`check_session`] opens a well-formed session before the fuzz session and another after
/// it, and checks: no panic; the fuzz session's replies frame and decode; the session
/// opened before still answers `ping` and still finds the document it inserted (unless the
/// input restarted the server or names the witness database); the session opened after
/// answers `ping` and finds what it inserted; the connection counters are exact once
/// everyone hung up.
///
/// # Panics
/// When one of those checks fails (or the runtime cannot be built).
pub fn server_session(data: &[u8]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    if let Err(broken) = runtime.block_on(check_session(data)) {
        panic!("server_session: {broken}");
    }
}

/// Serves `data` as one client's stream, with a well-formed session open before it and
/// another opened after it, and checks the server's state.
///
/// # Errors
/// A description of the first broken check: a reply stream that does not frame, a wrong
/// answer on a well-formed session, or inexact connection counters.
pub async fn check_session(data: &[u8]) -> Result<SessionReport, String> {
    let server = Arc::new(Server::new(ServerOptions::default()));
    let touches_witness = data
        .windows(b"witness".len())
        .any(|w| w.eq_ignore_ascii_case(b"witness"));

    let (mut before, before_task) = open_before(&server).await?;
    let process = server.process_id();
    let (end, replies) = fuzz_session(&server, data).await?;
    let restarted = server.process_id() != process;
    reset_controls(&server)?;
    // The session before still answers (a restart legitimately closed it).
    if !restarted {
        check_before(&mut before, touches_witness).await?;
    }
    let (after, after_task) = open_after(&server, touches_witness).await?;

    // Hang up both; the counters must be exact.
    drop(before);
    drop(after);
    let before_end = if restarted {
        ConnectionEnd::Restarted
    } else {
        ConnectionEnd::ClientClosed
    };
    expect_end("before", before_task, before_end).await?;
    expect_end("after", after_task, ConnectionEnd::ClientClosed).await?;
    check_counters(&server)?;
    Ok(SessionReport {
        end,
        replies,
        restarted,
    })
}

/// The session before: open, and has written a document.
async fn open_before(
    server: &Arc<Server>,
) -> Result<(DuplexStream, JoinHandle<ConnectionEnd>), String> {
    let (mut before, before_task) = open(server, "before");
    let reply = command(
        &mut before,
        doc! {"insert": "docs", "documents": [{"_id": 1, "v": "kept"}], "$db": WITNESS_DB},
    )
    .await?;
    expect_ok(&reply, "insert before the fuzz session")?;
    Ok((before, before_task))
}

/// The fuzz session: all of `data`, then a hang-up; every reply is read. Returns how the
/// server ended it and how many complete replies it wrote.
async fn fuzz_session(server: &Arc<Server>, data: &[u8]) -> Result<(ConnectionEnd, usize), String> {
    let (client, stream) = tokio::io::duplex(PIPE);
    let serve = serve_connection(Arc::clone(server), stream, "fuzz");
    let (mut rx, mut tx) = tokio::io::split(client);
    let send = async move {
        // The server may hang up first (a protocol error); that is fine.
        let _ = tx.write_all(data).await;
        let _ = tx.shutdown().await;
    };
    let receive = async move {
        let mut replies = Vec::new();
        let _ = rx.read_to_end(&mut replies).await;
        replies
    };
    let (end, (), replies) = tokio::join!(serve, send, receive);
    if matches!(end, ConnectionEnd::Refused | ConnectionEnd::OverLimit) {
        return Err(format!("the fuzz session was not admitted: {end:?}"));
    }
    if let ConnectionEnd::Io(err) = &end {
        return Err(format!(
            "a pipe cannot fail, but the session ended with {err}"
        ));
    }
    let replies = count_frames(&replies, &end)?;
    Ok((end, replies))
}

/// Server-wide controls the input may have set are the input's business; undoes them
/// before the other sessions are checked.
fn reset_controls(server: &Server) -> Result<(), String> {
    server.set_faults(Faults::default());
    server
        .configure_fail_point(&doc! {"configureFailPoint": "failCommand", "mode": "off"})
        .map_err(|e| format!("turning the fail point off failed: {e}"))?;
    Ok(())
}

/// The session opened before answers `ping` and still holds its document (unless the
/// input names the witness database).
async fn check_before(before: &mut DuplexStream, touches_witness: bool) -> Result<(), String> {
    let reply = command(before, doc! {"ping": 1, "$db": "admin"}).await?;
    expect_ok(&reply, "ping on the session opened before")?;
    let docs = find(before, "docs").await?;
    if !touches_witness && docs != vec![doc! {"_id": 1, "v": "kept"}] {
        return Err(format!("the document written before is gone: {docs:?}"));
    }
    Ok(())
}

/// A session opened after: ping, then a find returns what an insert wrote.
async fn open_after(
    server: &Arc<Server>,
    touches_witness: bool,
) -> Result<(DuplexStream, JoinHandle<ConnectionEnd>), String> {
    let (mut after, after_task) = open(server, "after");
    let reply = command(&mut after, doc! {"ping": 1, "$db": "admin"}).await?;
    expect_ok(&reply, "ping on a session opened after")?;
    let reply = command(
        &mut after,
        doc! {"insert": "after", "documents": [{"_id": "a", "n": 7}], "$db": WITNESS_DB},
    )
    .await?;
    if !touches_witness {
        expect_ok(&reply, "insert on a session opened after")?;
    }
    let docs = find(&mut after, "after").await?;
    let wrote = doc! {"_id": "a", "n": 7};
    if !docs.contains(&wrote) || (!touches_witness && docs.len() != 1) {
        return Err(format!("find after insert returned {docs:?}"));
    }
    Ok((after, after_task))
}

/// Waits for the `name` session's task, which must end with `expected`.
async fn expect_end(
    name: &str,
    task: JoinHandle<ConnectionEnd>,
    expected: ConnectionEnd,
) -> Result<(), String> {
    let end = task
        .await
        .map_err(|e| format!("the {name} session panicked: {e}"))?;
    if end != expected {
        return Err(format!("the {name} session ended with {end:?}"));
    }
    Ok(())
}

/// Once everyone hung up: no connection open or active, three created, none rejected.
fn check_counters(server: &Server) -> Result<(), String> {
    let stats = server.connection_stats();
    let counts = (
        stats.current,
        stats.total_created,
        stats.rejected,
        stats.active,
        stats.awaiting_topology_changes,
    );
    if counts != (0, 3, 0, 0, 0) {
        return Err(format!(
            "counters (current, total_created, rejected, active, awaiting) are {counts:?}, not (0, 3, 0, 0, 0)"
        ));
    }
    Ok(())
}

/// Opens a well-formed session served in a task.
fn open(server: &Arc<Server>, peer: &'static str) -> (DuplexStream, JoinHandle<ConnectionEnd>) {
    let (client, stream) = tokio::io::duplex(PIPE);
    let task = tokio::spawn(serve_connection(Arc::clone(server), stream, peer));
    (client, task)
}

/// Sends one OP_MSG command and reads its reply body.
async fn command(stream: &mut DuplexStream, body: Document) -> Result<Document, String> {
    let name = body.keys().next().cloned().unwrap_or_default();
    let request = Message::Msg(OpMsg::command(body));
    write_message(stream, &request, 1, 0)
        .await
        .map_err(|e| format!("{name}: write failed: {e}"))?;
    let (header, reply) = read_message(stream, usize::MAX)
        .await
        .map_err(|e| format!("{name}: no reply: {e}"))?;
    if header.response_to != 1 {
        return Err(format!("{name}: reply to {}, not 1", header.response_to));
    }
    match reply {
        Message::Msg(msg) => msg
            .into_command()
            .map_err(|e| format!("{name}: reply without a body: {e}")),
        other => Err(format!("{name}: OP_MSG reply expected, got {other:?}")),
    }
}

/// All documents of `WITNESS_DB.coll`, in the first batch.
async fn find(stream: &mut DuplexStream, coll: &str) -> Result<Vec<Document>, String> {
    let reply = command(stream, doc! {"find": coll, "filter": {}, "$db": WITNESS_DB}).await?;
    expect_ok(&reply, "find")?;
    let batch = reply
        .get_document("cursor")
        .and_then(|c| c.get_array("firstBatch"))
        .map_err(|e| format!("find reply without cursor.firstBatch: {e}: {reply:?}"))?;
    batch
        .iter()
        .map(|d| match d {
            Bson::Document(d) => Ok(d.clone()),
            other => Err(format!("a non-document in firstBatch: {other:?}")),
        })
        .collect()
}

fn expect_ok(reply: &Document, what: &str) -> Result<(), String> {
    let ok = match reply.get("ok") {
        Some(Bson::Double(v)) => *v == 1.0,
        Some(Bson::Int32(v)) => *v == 1,
        Some(Bson::Int64(v)) => *v == 1,
        _ => false,
    };
    if ok && !reply.contains_key("writeErrors") {
        Ok(())
    } else {
        Err(format!("{what}: {reply:?}"))
    }
}

/// Splits the fuzz session's reply stream into messages; each must decode. Only a reset
/// fault may leave a partial message at the end.
fn count_frames(mut bytes: &[u8], end: &ConnectionEnd) -> Result<usize, String> {
    let mut count = 0;
    while !bytes.is_empty() {
        let complete = bytes
            .get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(i32::from_le_bytes)
            .and_then(|len| usize::try_from(len).ok())
            .filter(|&len| len <= bytes.len());
        let Some(len) = complete else {
            if *end == ConnectionEnd::FaultReset {
                return Ok(count);
            }
            return Err(format!(
                "a partial reply ({} bytes) without a reset fault ({end:?})",
                bytes.len()
            ));
        };
        Message::decode(&bytes[..len], usize::MAX)
            .map_err(|e| format!("reply {count} does not decode: {e}"))?;
        bytes = &bytes[len..];
        count += 1;
    }
    Ok(count)
}
