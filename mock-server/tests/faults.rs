//! Goal: connection counting stays exact, malformed input only ever costs the connection
//! that sent it, and each connection-level fault does what it says.
//! Method: raw bytes and wire messages over `tokio::io::duplex`; paused time for delays.

mod common;

use std::time::Duration;

use bson::doc;
use common::{connect, connections, is_ok, server};
use mock_server::{ConnectionEnd, Faults};
use tokio::time::Instant;
use wire::{Message, OpMsg, WireError};

#[tokio::test]
async fn server_status_connections_count_exactly() {
    let server = server();
    let mut watcher = connect(&server);
    // serverStatus counts the connection that asks.
    assert_eq!(connections(&mut watcher, "current").await, 1);
    let baseline_created = connections(&mut watcher, "totalCreated").await;
    let mut others = Vec::new();
    for _ in 0..5 {
        let mut c = connect(&server);
        assert!(is_ok(&c.command(doc! {"ping": 1, "$db": "admin"}).await));
        others.push(c);
    }
    assert_eq!(connections(&mut watcher, "current").await, 6);
    assert_eq!(
        connections(&mut watcher, "totalCreated").await,
        baseline_created + 5
    );
    assert_eq!(
        connections(&mut watcher, "active").await,
        1,
        "only the serverStatus itself runs"
    );
    let available = connections(&mut watcher, "available").await;
    assert_eq!(available, 1_000_000 - 6);
    for c in others.drain(..3) {
        assert_eq!(c.close().await, ConnectionEnd::ClientClosed);
    }
    assert_eq!(connections(&mut watcher, "current").await, 3);
    assert_eq!(
        connections(&mut watcher, "totalCreated").await,
        baseline_created + 5,
        "monotonic"
    );
}

#[tokio::test]
async fn garbage_bytes_close_only_that_connection() {
    let server = server();
    server
        .insert_documents("test", "keep", vec![doc! {"_id": 1}, doc! {"_id": 2}])
        .expect("seed");
    let mut bad = connect(&server);
    // A valid length followed by junk: the frame is read, fails to decode, gets an error
    // reply, and the connection is closed.
    let mut junk = 40_i32.to_le_bytes().to_vec();
    junk.extend_from_slice(&[0xAB; 36]);
    bad.send_raw(&junk).await;
    let reply = bad.receive().await;
    match reply {
        Ok((_, Message::Msg(msg))) => {
            let body = msg.into_command().expect("body");
            assert_eq!(body.get_f64("ok"), Ok(0.0));
            assert!(
                body.get_str("errmsg")
                    .is_ok_and(|m| m.contains("malformed message")),
                "{body}"
            );
        }
        other => panic!("expected an error reply, got {other:?}"),
    }
    assert!(matches!(bad.end().await, ConnectionEnd::ProtocolError(_)));
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn an_oversized_length_closes_before_reading_the_body() {
    let server = server();
    server
        .insert_documents("test", "keep", vec![doc! {"_id": 1}, doc! {"_id": 2}])
        .expect("seed");
    let mut bad = connect(&server);
    bad.send_raw(&100_000_000_i32.to_le_bytes()).await;
    assert!(matches!(
        bad.receive().await,
        Err(WireError::ConnectionClosed)
    ));
    assert!(matches!(bad.end().await, ConnectionEnd::ProtocolError(m) if m.contains("exceeds")));
    let mut negative = connect(&server);
    negative.send_raw(&(-5_i32).to_le_bytes()).await;
    assert!(matches!(
        negative.end().await,
        ConnectionEnd::ProtocolError(_)
    ));
    let mut tiny = connect(&server);
    tiny.send_raw(&3_i32.to_le_bytes()).await;
    assert!(matches!(tiny.end().await, ConnectionEnd::ProtocolError(_)));
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn a_truncated_message_closes_the_connection() {
    let server = server();
    server
        .insert_documents("test", "keep", vec![doc! {"_id": 1}, doc! {"_id": 2}])
        .expect("seed");
    let mut bad = connect(&server);
    let bytes = Message::Msg(OpMsg::command(
        doc! {"insert": "keep", "documents": [{"_id": 3}], "$db": "test"},
    ))
    .encode(1, 0);
    bad.send_raw(&bytes[..bytes.len() - 5]).await;
    let end = bad.close().await;
    assert!(
        matches!(end, ConnectionEnd::ProtocolError(ref m) if m.contains("truncated")),
        "{end:?}"
    );
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn unknown_opcode_and_bad_flags_get_an_error_then_close() {
    let server = server();
    for patch in [Patch::OpCode(2002), Patch::Flags(1 << 5)] {
        let mut bad = connect(&server);
        let mut bytes = Message::Msg(OpMsg::command(doc! {"ping": 1, "$db": "admin"})).encode(9, 0);
        match patch {
            Patch::OpCode(op) => bytes[12..16].copy_from_slice(&op.to_le_bytes()),
            Patch::Flags(bits) => bytes[16..20].copy_from_slice(&bits.to_le_bytes()),
        }
        bad.send_raw(&bytes).await;
        let (header, _) = bad.receive().await.expect("an error reply");
        assert_eq!(header.response_to, 9);
        assert!(matches!(bad.end().await, ConnectionEnd::ProtocolError(_)));
    }
    assert_eq!(
        server.connection_stats().current,
        0,
        "protocol-error closes are counted"
    );
}

enum Patch {
    OpCode(i32),
    Flags(u32),
}

/// A new connection still answers, and nothing stored was lost.
async fn assert_still_serving(server: &std::sync::Arc<mock_server::Server>) {
    let mut fresh = connect(server);
    assert!(is_ok(
        &fresh.command(doc! {"ping": 1, "$db": "admin"}).await
    ));
    let found = fresh.command(doc! {"find": "keep", "$db": "test"}).await;
    assert_eq!(
        common::batch(&found),
        vec![doc! {"_id": 1}, doc! {"_id": 2}]
    );
    assert_eq!(server.documents("test", "keep").len(), 2);
}

#[tokio::test]
async fn refuse_and_connection_limit() {
    let server = server();
    server.set_faults(Faults {
        refuse_connections: true,
        ..Faults::default()
    });
    assert_eq!(connect(&server).end().await, ConnectionEnd::Refused);
    server.set_faults(Faults {
        max_incoming_connections: Some(2),
        ..Faults::default()
    });
    let mut a = connect(&server);
    let mut b = connect(&server);
    assert!(is_ok(&a.command(doc! {"ping": 1, "$db": "admin"}).await));
    assert!(is_ok(&b.command(doc! {"ping": 1, "$db": "admin"}).await));
    assert_eq!(connect(&server).end().await, ConnectionEnd::OverLimit);
    assert_eq!(connections(&mut a, "available").await, 0);
    let stats = server.connection_stats();
    assert_eq!((stats.current, stats.rejected), (2, 2));
    assert_eq!(b.close().await, ConnectionEnd::ClientClosed);
    let mut c = connect(&server);
    assert!(
        is_ok(&c.command(doc! {"ping": 1, "$db": "admin"}).await),
        "room again after a close"
    );
}

#[tokio::test(start_paused = true)]
async fn black_hole_swallows_requests_but_control_commands_pass() {
    let server = server();
    let mut control = connect(&server);
    assert!(is_ok(
        &control
            .command(doc! {"poolcheckFault": "set", "blackHole": true, "$db": "admin"})
            .await
    ));
    let mut conn = connect(&server);
    conn.start(doc! {"ping": 1, "$db": "admin"}).await;
    let waited = tokio::time::timeout(Duration::from_secs(30), conn.receive()).await;
    assert!(waited.is_err(), "no answer, ever");
    assert_eq!(
        server.connection_stats().current,
        2,
        "the connection stays open"
    );
    assert!(is_ok(
        &control
            .command(doc! {"poolcheckFault": "clear", "$db": "admin"})
            .await
    ));
    let mut fresh = connect(&server);
    assert!(is_ok(
        &fresh.command(doc! {"ping": 1, "$db": "admin"}).await
    ));
}

#[tokio::test(start_paused = true)]
async fn latency_and_accept_delay() {
    let server = server();
    server.set_faults(Faults {
        latency: Duration::from_millis(250),
        accept_delay: Duration::from_millis(100),
        ..Faults::default()
    });
    let started = Instant::now();
    let mut conn = connect(&server);
    assert!(is_ok(&conn.command(doc! {"ping": 1, "$db": "admin"}).await));
    assert!(started.elapsed() >= Duration::from_millis(350));
    let started = Instant::now();
    assert!(is_ok(&conn.command(doc! {"ping": 1, "$db": "admin"}).await));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_millis(300),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn reset_mid_reply_cuts_one_reply() {
    let server = server();
    let mut control = connect(&server);
    assert!(is_ok(
        &control
            .command(doc! {"poolcheckFault": "set", "resetMidReply": 1, "$db": "admin"})
            .await
    ));
    let mut victim = connect(&server);
    victim.start(doc! {"ping": 1, "$db": "admin"}).await;
    assert!(matches!(
        victim.receive().await,
        Err(WireError::Truncated { .. })
    ));
    assert_eq!(victim.end().await, ConnectionEnd::FaultReset);
    let mut next = connect(&server);
    assert!(
        is_ok(&next.command(doc! {"ping": 1, "$db": "admin"}).await),
        "only one reply was cut"
    );
}

#[tokio::test]
async fn reset_after_bytes() {
    let server = server();
    server.set_faults(Faults {
        reset_after_bytes: Some(300),
        ..Faults::default()
    });
    let mut conn = connect(&server);
    let mut answered = 0;
    loop {
        conn.start(doc! {"ping": 1, "$db": "admin"}).await;
        match conn.receive().await {
            Ok(_) => answered += 1,
            Err(_) => break,
        }
        assert!(answered < 100, "the budget must run out");
    }
    assert!(answered > 0);
    assert_eq!(conn.end().await, ConnectionEnd::FaultReset);
}

#[tokio::test]
async fn restart_drops_connections_and_optionally_data() {
    let server = server();
    server
        .insert_documents("test", "c", vec![doc! {"_id": 1}])
        .expect("seed");
    let mut control = connect(&server);
    let mut idle = connect(&server);
    assert!(is_ok(&idle.command(doc! {"ping": 1, "$db": "admin"}).await));
    let before = server.process_id();
    let reply = control
        .command(doc! {"poolcheckFault": "restart", "$db": "admin"})
        .await;
    assert!(
        is_ok(&reply),
        "the restart command is answered before its connection drops"
    );
    assert_eq!(idle.end().await, ConnectionEnd::Restarted);
    assert_eq!(control.end().await, ConnectionEnd::Restarted);
    assert_ne!(
        server.process_id(),
        before,
        "a new topologyVersion.processId"
    );
    assert_eq!(server.connection_stats().current, 0);
    assert_eq!(
        server.documents("test", "c").len(),
        1,
        "data survives a plain restart"
    );
    server.restart(true);
    assert!(server.documents("test", "c").is_empty());
    let mut fresh = connect(&server);
    assert!(is_ok(
        &fresh.command(doc! {"ping": 1, "$db": "admin"}).await
    ));
}
