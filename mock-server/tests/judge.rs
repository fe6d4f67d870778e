//! Goal: the wire-side pool judge (`--judge`) flags misbehaving clients (WIRE-MAX,
//! WIRE-CONNECTING, WIRE-SHARED, WIRE-LEAK, and the opt-in WIRE-STALE), never a
//! well-behaved one, and survives hostile input.
//! Method: raw wire clients over `tokio::io::duplex`; the verdict is read from
//! `Server::verdict` and the `poolcheckVerdict` command, waits use paused Tokio time.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bson::{doc, Bson, Document};
use common::{code, connect, connect_as, fail_command, is_ok, server, Conn};
use mock_server::judge::{Check, JudgeSpec, Verdict};
use mock_server::{ConnectionEnd, Server, ServerOptions};
use wire::{Message, MsgFlags, OpMsg};

/// A server judged by `spec`.
fn judged(spec: &str) -> Arc<Server> {
    let spec: JudgeSpec = spec.parse().expect("spec");
    Arc::new(Server::new(ServerOptions {
        judge: Some(spec),
        ..ServerOptions::default()
    }))
}

fn verdict(server: &Server) -> Verdict {
    server.verdict().expect("the judge is on")
}

fn count(verdict: &Verdict, check: Check) -> usize {
    verdict
        .violations
        .iter()
        .filter(|v| v.check == check)
        .count()
}

/// `{poolcheckVerdict: 1}` from a fresh connection.
async fn verdict_command(server: &Arc<Server>) -> Document {
    let mut control = connect(server);
    control
        .command(doc! {"poolcheckVerdict": 1, "$db": "admin"})
        .await
}

async fn ping(conn: &mut Conn) {
    let reply = conn.command(doc! {"ping": 1, "$db": "admin"}).await;
    assert!(is_ok(&reply), "{reply}");
}

fn hello_as(app_name: &str) -> Document {
    doc! {"hello": 1, "client": {"application": {"name": app_name}, "driver": {"name": "test", "version": "0"}}, "$db": "admin"}
}

/// Both messages in one write, so the server reads the second before answering the first.
async fn send_pair(conn: &mut Conn, first: &OpMsg, second: &OpMsg) {
    let mut bytes = Vec::new();
    let mut part = Vec::new();
    Message::Msg(first.clone())
        .encode_into(&mut part, 100, 0)
        .expect("encode");
    bytes.extend_from_slice(&part);
    part.clear();
    Message::Msg(second.clone())
        .encode_into(&mut part, 101, 0)
        .expect("encode");
    bytes.extend_from_slice(&part);
    conn.send_raw(&bytes).await;
}

#[tokio::test(start_paused = true)]
async fn one_pooled_connection_too_many_is_a_max_violation() {
    let server = judged("max-pool-size=3");
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(pooled(&server, "greedy").await.0);
    }
    // Decided once the others had settle-ms (250 by default) to close.
    tokio::time::advance(Duration::from_millis(251)).await;
    let v = verdict(&server);
    assert_eq!(count(&v, Check::Max), 1, "{v}");
    assert_eq!(v.violation_count(), 1, "{v}");
    assert_eq!(v.pooled, 4);
    let reply = verdict_command(&server).await;
    assert!(is_ok(&reply), "{reply}");
    let violations = reply.get_array("violations").expect("violations");
    assert_eq!(violations.len(), 1);
    let Some(Bson::Document(first)) = violations.first() else {
        panic!("a violation document expected: {reply}");
    };
    assert_eq!(first.get_str("check"), Ok("WIRE-MAX"));
    assert_eq!(first.get_str("client"), Ok("test/greedy@duplex"));
    assert!(first.get_i64("connection").is_ok() && first.contains_key("atMillis"));
    assert_eq!(
        reply
            .get_document("violationCounts")
            .and_then(|c| c.get_i64("WIRE-MAX")),
        Ok(1)
    );
}

#[tokio::test(start_paused = true)]
async fn a_connection_closed_within_the_settle_window_is_not_counted() {
    // A pool that let connection 1 go (its socket torn down a moment later, as CMAP
    // allows) and pooled a replacement: four open at once for the server, three for the
    // pool.
    let server = judged("max-pool-size=3,settle-ms=60000");
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(pooled(&server, "tidy").await.0);
    }
    tokio::time::advance(Duration::from_millis(60)).await;
    let first = conns.remove(0);
    assert_eq!(first.close().await, ConnectionEnd::ClientClosed);
    tokio::time::advance(Duration::from_secs(60)).await;
    let v = verdict(&server);
    assert!(v.is_ok(), "{v}");
    // The same, with the old connection closed only after the window: a violation.
    let mut late = Vec::new();
    for _ in 0..4 {
        late.push(pooled(&server, "late").await.0);
    }
    tokio::time::advance(Duration::from_millis(60_001)).await;
    let _ = late.remove(0).close().await;
    let v = verdict(&server);
    assert_eq!(count(&v, Check::Max), 1, "{v}");
    assert!(
        v.violations[0].detail.contains("still open 60000 ms later"),
        "{v}"
    );
}

#[tokio::test]
async fn hello_only_connections_are_not_pooled() {
    let server = judged("max-pool-size=3");
    let mut conns = Vec::new();
    for _ in 0..4 {
        let mut conn = connect_as(&server, "monitor").await;
        let again = conn.command(doc! {"hello": 1, "$db": "admin"}).await;
        assert!(is_ok(&again));
        conns.push(conn);
    }
    let v = verdict(&server);
    assert!(v.is_ok(), "{v}");
    assert_eq!((v.connections, v.pooled), (4, 0));
}

#[tokio::test]
async fn a_different_app_name_is_a_different_client() {
    let server = judged("max-pool-size=2");
    let mut conns = Vec::new();
    for app in ["a", "a", "b", "b"] {
        let mut conn = connect_as(&server, app).await;
        ping(&mut conn).await;
        conns.push(conn);
    }
    let v = verdict(&server);
    assert!(v.is_ok(), "{v}");
    assert_eq!(v.clients, 2);
}

/// Three pooled handshakes held open together by a `blockConnection` fail point on hello.
async fn blocked_handshakes(server: &Arc<Server>, n: i32) -> Vec<Conn> {
    let mut control = connect(server);
    let reply = control
        .command(doc! {
            "configureFailPoint": "failCommand", "mode": {"times": n},
            "data": {"failCommands": ["hello"], "blockConnection": true, "blockTimeMS": 1_000, "appName": "slow"},
            "$db": "admin",
        })
        .await;
    assert!(is_ok(&reply), "{reply}");
    let mut conns: Vec<Conn> = (0..n).map(|_| connect(server)).collect();
    let mut ids = Vec::new();
    for conn in &mut conns {
        ids.push(conn.start(hello_as("slow")).await);
    }
    for (conn, id) in conns.iter_mut().zip(ids) {
        let hello = conn.reply_to(id).await;
        assert!(is_ok(&hello), "{hello}");
    }
    for conn in &mut conns {
        ping(conn).await;
    }
    conns
}

#[tokio::test(start_paused = true)]
async fn too_many_overlapping_handshakes_is_a_connecting_violation() {
    let server = judged("max-pool-size=10,max-connecting=2");
    let _conns = blocked_handshakes(&server, 3).await;
    let v = verdict(&server);
    assert_eq!(count(&v, Check::Connecting), 1, "{v}");
    assert_eq!(v.violation_count(), 1, "{v}");
}

#[tokio::test(start_paused = true)]
async fn handshakes_within_max_connecting_are_fine() {
    let server = judged("max-pool-size=10,max-connecting=3");
    let _conns = blocked_handshakes(&server, 3).await;
    let v = verdict(&server);
    assert!(v.is_ok(), "{v}");
    assert_eq!(v.pooled, 4, "three and the fail point's control connection");
}

#[tokio::test(start_paused = true)]
async fn sequential_handshakes_never_overlap() {
    let server = judged("max-connecting=1");
    let mut conns = Vec::new();
    for _ in 0..3 {
        let mut conn = connect_as(&server, "calm").await;
        ping(&mut conn).await;
        conns.push(conn);
        tokio::time::advance(Duration::from_millis(1)).await;
    }
    let v = verdict(&server);
    assert!(v.is_ok(), "{v}");
}

#[tokio::test]
async fn two_pipelined_requests_are_a_shared_violation() {
    let server = judged("max-pool-size=10");
    let mut conn = connect_as(&server, "sharer").await;
    let ping = OpMsg::command(doc! {"ping": 1, "$db": "admin"});
    send_pair(&mut conn, &ping, &ping).await;
    assert!(is_ok(&conn.reply_to(100).await));
    assert!(is_ok(&conn.reply_to(101).await));
    let v = verdict(&server);
    assert_eq!(count(&v, Check::Shared), 1, "{v}");
    assert_eq!(v.violation_count(), 1, "{v}");
}

#[tokio::test]
async fn a_more_to_come_request_then_another_is_fine() {
    let server = judged("max-pool-size=10");
    let mut conn = connect_as(&server, "streamer").await;
    let mut insert = OpMsg::command(doc! {"insert": "c", "documents": [{"_id": 1}], "$db": "db"});
    insert.flags = MsgFlags::MORE_TO_COME;
    let ping = OpMsg::command(doc! {"ping": 1, "$db": "admin"});
    send_pair(&mut conn, &insert, &ping).await;
    assert!(is_ok(&conn.reply_to(101).await));
    assert_eq!(server.documents("db", "c").len(), 1);
    let v = verdict(&server);
    assert!(v.is_ok(), "{v}");
}

#[tokio::test(start_paused = true)]
async fn a_connection_open_past_the_grace_after_end_sessions_is_a_leak() {
    let server = judged("grace-ms=100");
    let mut a = connect_as(&server, "leaky").await;
    let _b = connect_as(&server, "leaky").await;
    let ended = a.command(doc! {"endSessions": [], "$db": "admin"}).await;
    assert!(is_ok(&ended));
    tokio::time::advance(Duration::from_millis(50)).await;
    assert!(verdict(&server).is_ok(), "within the grace");
    tokio::time::advance(Duration::from_millis(100)).await;
    let v = verdict(&server);
    assert_eq!(count(&v, Check::Leak), 2, "{v}");
    // Reported once per connection, however often the verdict is read.
    assert_eq!(verdict(&server).violation_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn connections_closed_within_the_grace_are_no_leak() {
    let server = judged("grace-ms=100");
    let mut a = connect_as(&server, "tidy").await;
    let b = connect_as(&server, "tidy").await;
    ping(&mut a).await;
    let ended = a.command(doc! {"endSessions": [], "$db": "admin"}).await;
    assert!(is_ok(&ended));
    a.close().await;
    b.close().await;
    tokio::time::advance(Duration::from_secs(5)).await;
    let v = verdict(&server);
    assert!(v.is_ok(), "{v}");
}

#[tokio::test(start_paused = true)]
async fn client_closed_command_starts_the_grace() {
    let server = judged("grace-ms=100");
    let _open = connect_as(&server, "forgetful").await;
    let _other = connect_as(&server, "someone-else").await;
    let mut control = connect(&server);
    let reply = control
        .command(doc! {"poolcheckClientClosed": 1, "appName": "forgetful", "$db": "admin"})
        .await;
    assert!(is_ok(&reply), "{reply}");
    let bad = control
        .command(doc! {"poolcheckClientClosed": 1, "appName": 5, "$db": "admin"})
        .await;
    assert!(!is_ok(&bad));
    tokio::time::advance(Duration::from_millis(101)).await;
    let reply = verdict_command(&server).await;
    let violations = reply.get_array("violations").expect("violations");
    assert_eq!(violations.len(), 1, "{reply}");
    let Some(Bson::Document(leak)) = violations.first() else {
        panic!("{reply}");
    };
    assert_eq!(leak.get_str("check"), Ok("WIRE-LEAK"));
    assert_eq!(leak.get_str("client"), Ok("test/forgetful@duplex"));
}

#[tokio::test]
async fn a_clean_session_has_no_violation() {
    let server = judged("max-pool-size=2,max-connecting=2,grace-ms=1000");
    let mut monitor = connect_as(&server, "clean").await;
    let mut a = connect_as(&server, "clean").await;
    let mut b = connect_as(&server, "clean").await;
    assert!(is_ok(
        &monitor.command(doc! {"hello": 1, "$db": "admin"}).await
    ));
    ping(&mut a).await;
    let found = b.command(doc! {"find": "c", "$db": "db"}).await;
    assert!(is_ok(&found));
    let ended = a.command(doc! {"endSessions": [], "$db": "admin"}).await;
    assert!(is_ok(&ended));
    for conn in [monitor, a, b] {
        conn.close().await;
    }
    let reply = verdict_command(&server).await;
    assert!(is_ok(&reply));
    assert_eq!(
        reply.get_array("violations").map(Vec::len),
        Ok(0),
        "{reply}"
    );
    assert_eq!(reply.get_i64("pooledConnections"), Ok(2));
    assert_eq!(reply.get_i64("connections"), Ok(4), "three and the control");
    assert_eq!(reply.get_array("checks").map(|c| c.len()), Ok(4), "{reply}");
    assert!(verdict(&server).is_ok());
}

#[tokio::test]
async fn hostile_clients_do_not_break_the_judge() {
    let server = judged("max-pool-size=1");
    let mut garbage = connect(&server);
    garbage
        .send_raw(&[
            0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ])
        .await;
    assert!(matches!(
        garbage.end().await,
        mock_server::ConnectionEnd::ProtocolError(_)
    ));
    for metadata in [
        Bson::String("not a document".into()),
        Bson::Document(doc! {"driver": 5, "application": {"name": ["x"]}}),
        Bson::Document(doc! {"driver": {"name": "x".repeat(10_000)}}),
    ] {
        let mut odd = connect(&server);
        let _ = odd
            .command(doc! {"hello": 1, "client": metadata, "$db": "admin"})
            .await;
        let reply = odd.command(doc! {"ping": 1, "$db": "admin"}).await;
        assert!(is_ok(&reply), "{reply}");
    }
    let mut fine = connect_as(&server, "fine").await;
    ping(&mut fine).await;
    let reply = verdict_command(&server).await;
    assert!(is_ok(&reply), "{reply}");
    let v = verdict(&server);
    // The odd handshakes group by what could be read; none crashed the server.
    assert_eq!(v.pooled, 4, "{v}");
}

#[tokio::test]
async fn with_the_judge_off_its_commands_do_not_exist() {
    let server = server();
    assert!(server.verdict().is_none());
    let reply = verdict_command(&server).await;
    assert_eq!(code(&reply), Some(59), "{reply}");
}

// WIRE-STALE (opt-in: `stale-grace-ms`).

/// A pooled connection of `app_name` (it ran a command) and its connection id; the clock
/// then moves on 1 ms, so paused-time handshakes never overlap (WIRE-CONNECTING).
async fn pooled(server: &Arc<Server>, app_name: &str) -> (Conn, i64) {
    let mut conn = connect_as(server, app_name).await;
    let hello = conn.command(doc! {"hello": 1, "$db": "admin"}).await;
    let id = match hello.get("connectionId") {
        Some(Bson::Int32(id)) => i64::from(*id),
        Some(Bson::Int64(id)) => *id,
        other => panic!("connectionId: {other:?}"),
    };
    ping(&mut conn).await;
    tokio::time::advance(Duration::from_millis(1)).await;
    (conn, id)
}

/// Arms `failCommand` once on `find`: `closeConnection`, or an error with this code (and
/// `errorExtraInfo`).
async fn fail_next_find(server: &Arc<Server>, close: bool, code: i32, extra: Document) {
    let mut control = connect(server);
    let mut data = doc! {"failCommands": ["find"]};
    if close {
        data.insert("closeConnection", true);
    } else {
        data.insert("errorCode", code);
        data.insert("errorExtraInfo", extra);
    }
    fail_command(&mut control, Bson::Document(doc! {"times": 1}), data).await;
}

/// `conn`'s next `find` is closed by the fail point (the server side has ended).
async fn closed_by_fail_point(server: &Arc<Server>, mut conn: Conn) {
    fail_next_find(server, true, 0, Document::new()).await;
    conn.start(doc! {"find": "c", "$db": "db"}).await;
    assert_eq!(conn.end().await, ConnectionEnd::FailPointClosed);
}

/// `conn`'s next `find` fails with `code` (and `extra`) from the fail point.
async fn error_from_fail_point(server: &Arc<Server>, conn: &mut Conn, code: i32, extra: Document) {
    fail_next_find(server, false, code, extra).await;
    let reply = conn.command(doc! {"find": "c", "$db": "db"}).await;
    assert_eq!(common::code(&reply), Some(code), "{reply}");
}

fn stale_of(verdict: &Verdict) -> Vec<&mock_server::judge::Violation> {
    verdict
        .violations
        .iter()
        .filter(|v| v.check == Check::Stale)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn reusing_an_idle_connection_after_a_pool_clear_is_stale() {
    let server = judged("stale-grace-ms=100");
    let (a, a_id) = pooled(&server, "stale").await;
    let (mut b, b_id) = pooled(&server, "stale").await;
    closed_by_fail_point(&server, a).await;
    tokio::time::advance(Duration::from_millis(150)).await;
    ping(&mut b).await;
    assert!(
        verdict(&server).is_ok(),
        "B's first request since the clear is exempt"
    );
    ping(&mut b).await;
    let v = verdict(&server);
    let stale = stale_of(&v);
    assert_eq!((stale.len(), v.violation_count()), (1, 1), "{v}");
    let found = stale[0];
    assert_eq!(found.connection, b_id, "{v}");
    assert_eq!(found.client, "test/stale@duplex");
    assert!(found.detail.contains("closeConnection"), "{v}");
    assert!(found.detail.contains(&format!("connection {a_id}")), "{v}");
    assert!(found.detail.contains("2 requests since"), "{v}");
    ping(&mut b).await;
    assert_eq!(
        verdict(&server).violation_count(),
        1,
        "reported once per connection"
    );
    let reply = verdict_command(&server).await;
    let checks = reply.get_array("checks").expect("checks");
    assert!(
        checks.contains(&Bson::String("WIRE-STALE".into())),
        "{reply}"
    );
    let counts = reply.get_document("violationCounts").expect("counts");
    assert_eq!(counts.get_i64("WIRE-STALE"), Ok(1), "{reply}");
    assert_eq!(v.to_json()["checks"].as_array().map(Vec::len), Some(5));
}

#[tokio::test(start_paused = true)]
async fn a_client_that_replaces_its_connections_after_a_clear_is_fine() {
    let server = judged("stale-grace-ms=100");
    let (a, _) = pooled(&server, "careful").await;
    let (b, _) = pooled(&server, "careful").await;
    closed_by_fail_point(&server, a).await;
    b.close().await;
    let (mut c, _) = pooled(&server, "careful").await;
    tokio::time::advance(Duration::from_millis(150)).await;
    ping(&mut c).await;
    ping(&mut c).await;
    let v = verdict(&server);
    assert!(v.is_ok(), "{v}");
}

#[tokio::test(start_paused = true)]
async fn the_first_request_after_a_clear_is_exempt() {
    let server = judged("stale-grace-ms=100");
    let (a, _) = pooled(&server, "late").await;
    let (mut b, _) = pooled(&server, "late").await;
    closed_by_fail_point(&server, a).await;
    tokio::time::advance(Duration::from_millis(500)).await;
    ping(&mut b).await;
    let v = verdict(&server);
    assert!(v.is_ok(), "{v}");
}

#[tokio::test(start_paused = true)]
async fn reuse_within_the_grace_is_fine() {
    let server = judged("stale-grace-ms=100");
    let (a, _) = pooled(&server, "quick").await;
    let (mut b, _) = pooled(&server, "quick").await;
    closed_by_fail_point(&server, a).await;
    tokio::time::advance(Duration::from_millis(50)).await;
    ping(&mut b).await;
    ping(&mut b).await;
    let v = verdict(&server);
    assert!(v.is_ok(), "{v}");
}

/// A clear by error `code` (with `extra`) on A, then two requests on B past the grace: how
/// many WIRE-STALE violations.
async fn stale_after_error(server: &Arc<Server>, code: i32, extra: Document) -> usize {
    let (mut a, _) = pooled(server, "coded").await;
    let (mut b, _) = pooled(server, "coded").await;
    error_from_fail_point(server, &mut a, code, extra).await;
    tokio::time::advance(Duration::from_millis(150)).await;
    ping(&mut b).await;
    ping(&mut b).await;
    count(&verdict(server), Check::Stale)
}

#[tokio::test(start_paused = true)]
async fn shutdown_codes_clear_but_not_primary_codes_do_not_on_4_2_and_later() {
    let shutdown = judged("stale-grace-ms=100");
    assert_eq!(stale_after_error(&shutdown, 91, Document::new()).await, 1);
    let v = verdict(&shutdown);
    assert!(stale_of(&v)[0].detail.contains("error code 91"), "{v}");
    let interrupted = judged("stale-grace-ms=100");
    assert_eq!(
        stale_after_error(&interrupted, 11600, Document::new()).await,
        1
    );
    let not_primary = judged("stale-grace-ms=100");
    assert_eq!(
        stale_after_error(&not_primary, 10107, Document::new()).await,
        0
    );
    // A 4.0 server (maxWireVersion 7): its drivers clear on every state-change code.
    let old = Arc::new(Server::new(ServerOptions {
        judge: Some("stale-grace-ms=100".parse().expect("spec")),
        max_wire_version: 7,
        ..ServerOptions::default()
    }));
    assert_eq!(stale_after_error(&old, 10107, Document::new()).await, 1);
}

#[tokio::test(start_paused = true)]
async fn an_error_whose_topology_version_is_not_newer_does_not_clear() {
    let server = judged("stale-grace-ms=100");
    let known = doc! {"topologyVersion": {"processId": server.process_id(), "counter": 0i64}};
    assert_eq!(stale_after_error(&server, 91, known).await, 0);
    let server = judged("stale-grace-ms=100");
    let newer = doc! {"topologyVersion": {"processId": server.process_id(), "counter": 1i64}};
    assert_eq!(stale_after_error(&server, 91, newer).await, 1);
}

#[tokio::test(start_paused = true)]
async fn an_error_on_an_older_generation_does_not_clear_again() {
    let server = judged("stale-grace-ms=100");
    let (a, _) = pooled(&server, "gen").await;
    let (mut b, _) = pooled(&server, "gen").await;
    closed_by_fail_point(&server, a).await;
    tokio::time::advance(Duration::from_millis(150)).await;
    // D is of the new generation; B (older) then gets a shutdown error, its first request
    // since the clear: no new clear, so D is never marked.
    let (mut d, _) = pooled(&server, "gen").await;
    error_from_fail_point(&server, &mut b, 91, Document::new()).await;
    tokio::time::advance(Duration::from_millis(150)).await;
    ping(&mut d).await;
    ping(&mut d).await;
    let v = verdict(&server);
    assert!(v.is_ok(), "{v}");
    // The same error on D, of the current generation, does clear: E, idle then, is
    // marked, and its reuse past the grace is stale.
    let (mut e, e_id) = pooled(&server, "gen").await;
    error_from_fail_point(&server, &mut d, 91, Document::new()).await;
    tokio::time::advance(Duration::from_millis(150)).await;
    ping(&mut e).await;
    ping(&mut e).await;
    let v = verdict(&server);
    let stale = stale_of(&v);
    assert_eq!(stale.len(), 1, "{v}");
    assert_eq!(stale[0].connection, e_id, "{v}");
}

#[tokio::test(start_paused = true)]
async fn without_stale_grace_the_stale_check_is_off() {
    let server = judged("max-pool-size=10");
    let (a, _) = pooled(&server, "off").await;
    let (mut b, _) = pooled(&server, "off").await;
    closed_by_fail_point(&server, a).await;
    tokio::time::advance(Duration::from_millis(5_000)).await;
    ping(&mut b).await;
    ping(&mut b).await;
    let v = verdict(&server);
    assert!(v.is_ok(), "{v}");
    assert!(!v.checks().contains(&Check::Stale));
    assert!(!v.to_string().contains("WIRE-STALE"), "{v}");
    let reply = verdict_command(&server).await;
    let checks = reply.get_array("checks").expect("checks");
    assert_eq!(checks.len(), 4, "{reply}");
    assert!(!checks.contains(&Bson::String("WIRE-STALE".into())));
}

#[tokio::test(start_paused = true)]
async fn a_connection_busy_at_the_clear_is_exempt() {
    let server = judged("stale-grace-ms=100");
    let (a, _) = pooled(&server, "busy").await;
    let (mut b, _) = pooled(&server, "busy").await;
    let sleeping = b
        .start(doc! {"sleep": 1, "millis": 1_000, "$db": "admin"})
        .await;
    closed_by_fail_point(&server, a).await;
    tokio::time::advance(Duration::from_millis(1_500)).await;
    assert!(is_ok(&b.reply_to(sleeping).await));
    ping(&mut b).await;
    ping(&mut b).await;
    let v = verdict(&server);
    assert!(v.is_ok(), "{v}");
}
