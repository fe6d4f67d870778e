//! Goal: the handshake works as each driver does it, and awaitable hello behaves as mongod.
//! Method: raw wire messages over `tokio::io::duplex`, with paused time for the waits.

mod common;

use std::time::Duration;

use bson::{doc, Bson};
use common::{connect, connect_as, server};
use mock_server::ConnectionEnd;
use tokio::time::Instant;

#[tokio::test]
async fn legacy_op_query_is_master_gets_op_reply() {
    // The Node driver's first message: OP_QUERY {ismaster: 1} on admin.$cmd.
    let server = server();
    let mut conn = connect(&server);
    let reply = conn
        .legacy(
            doc! {"ismaster": 1, "helloOk": true, "client": {"application": {"name": "node-app"}}},
        )
        .await;
    assert_eq!(reply.get_f64("ok"), Ok(1.0));
    assert_eq!(reply.get_bool("ismaster"), Ok(true));
    assert_eq!(reply.get_bool("helloOk"), Ok(true));
    assert!(reply.get_i32("maxWireVersion").is_ok_and(|v| v >= 9));
    // After the legacy handshake the same connection speaks OP_MSG.
    let ping = conn.command(doc! {"ping": 1, "$db": "admin"}).await;
    assert_eq!(ping.get_f64("ok"), Ok(1.0));
}

#[tokio::test]
async fn legacy_op_query_wrapped_in_query_and_other_commands() {
    let server = server();
    let mut conn = connect(&server);
    let reply = conn
        .legacy(doc! {"$query": {"isMaster": 1}, "$readPreference": {"mode": "primaryPreferred"}})
        .await;
    assert_eq!(reply.get_bool("ismaster"), Ok(true));
    // Since 5.1 mongod answers any other OP_QUERY command with 352.
    let reply = conn.legacy(doc! {"find": "c"}).await;
    assert_eq!(reply.get_i32("code"), Ok(352));
    assert_eq!(reply.get_str("codeName"), Ok("UnsupportedOpQueryCommand"));
}

#[tokio::test]
async fn op_msg_hello_and_distinct_connection_ids() {
    let server = server();
    let mut a = connect(&server);
    let mut b = connect(&server);
    let ha = a.command(doc! {"hello": 1, "$db": "admin"}).await;
    let hb = b
        .command(doc! {"isMaster": 1, "helloOk": true, "$db": "admin"})
        .await;
    assert_eq!(ha.get_bool("isWritablePrimary"), Ok(true));
    assert_eq!(hb.get_bool("ismaster"), Ok(true));
    assert_eq!(hb.get_bool("helloOk"), Ok(true));
    let (ia, ib) = (
        ha.get_i32("connectionId").expect("id"),
        hb.get_i32("connectionId").expect("id"),
    );
    assert_ne!(ia, ib, "every connection has its own id");
    for field in [
        "maxBsonObjectSize",
        "maxMessageSizeBytes",
        "maxWriteBatchSize",
        "logicalSessionTimeoutMinutes",
        "minWireVersion",
    ] {
        assert!(ha.contains_key(field), "{field}");
    }
    assert_eq!(ha.get_bool("readOnly"), Ok(false));
}

#[tokio::test]
async fn client_metadata_may_be_sent_once() {
    let server = server();
    let mut conn = connect_as(&server, "first").await;
    let again = conn
        .command(doc! {"hello": 1, "client": {"application": {"name": "second"}}, "$db": "admin"})
        .await;
    assert_eq!(again.get_i32("code"), Ok(186));
    // Heartbeats without metadata are fine.
    let heartbeat = conn.command(doc! {"hello": 1, "$db": "admin"}).await;
    assert_eq!(heartbeat.get_f64("ok"), Ok(1.0));
}

#[tokio::test]
async fn missing_db_is_an_error_not_a_crash() {
    let server = server();
    let mut conn = connect(&server);
    let reply = conn.command(doc! {"ping": 1}).await;
    assert_eq!(reply.get_i32("code"), Ok(40571));
    assert_eq!(
        conn.command(doc! {"ping": 1, "$db": "admin"})
            .await
            .get_f64("ok"),
        Ok(1.0)
    );
}

#[tokio::test(start_paused = true)]
async fn awaitable_hello_waits_for_max_await_time() {
    let server = server();
    let mut conn = connect(&server);
    let first = conn.command(doc! {"hello": 1, "$db": "admin"}).await;
    let topology = first
        .get_document("topologyVersion")
        .expect("topologyVersion")
        .clone();
    let started = Instant::now();
    let id = conn.start(doc! {"hello": 1, "topologyVersion": topology, "maxAwaitTimeMS": 10_000i64, "$db": "admin"}).await;
    let reply = conn.reply_to(id).await;
    assert_eq!(reply.get_f64("ok"), Ok(1.0));
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "held for maxAwaitTimeMS"
    );
    // An unknown processId (the client saw another server) is answered at once.
    let started = Instant::now();
    let stale = doc! {"processId": bson::oid::ObjectId::new(), "counter": 0i64};
    let id = conn.start(doc! {"hello": 1, "topologyVersion": stale, "maxAwaitTimeMS": 10_000i64, "$db": "admin"}).await;
    conn.reply_to(id).await;
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn awaitable_hello_notices_a_hang_up() {
    // mongod marks hello "kill on client disconnect": a client that closes during the wait
    // must not stay counted in connections.current for maxAwaitTimeMS.
    let server = server();
    let mut conn = connect(&server);
    let topology = conn
        .command(doc! {"hello": 1, "$db": "admin"})
        .await
        .get_document("topologyVersion")
        .expect("tv")
        .clone();
    conn.start(doc! {"hello": 1, "topologyVersion": topology, "maxAwaitTimeMS": 600_000i64, "$db": "admin"}).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(server.connection_stats().awaiting_topology_changes, 1);
    let started = Instant::now();
    assert_eq!(conn.close().await, ConnectionEnd::ClientClosed);
    assert!(started.elapsed() < Duration::from_secs(1));
    let stats = server.connection_stats();
    assert_eq!((stats.current, stats.awaiting_topology_changes), (0, 0));
}

#[tokio::test]
async fn awaitable_hello_argument_checks() {
    let server = server();
    let mut conn = connect(&server);
    let only_topology = conn.command(doc! {"hello": 1, "topologyVersion": {"processId": server.process_id(), "counter": 0i64}, "$db": "admin"}).await;
    assert_eq!(only_topology.get_i32("code"), Ok(31368));
    let only_wait = conn
        .command(doc! {"hello": 1, "maxAwaitTimeMS": 5, "$db": "admin"})
        .await;
    assert_eq!(only_wait.get_i32("code"), Ok(31372));
    let future = conn
        .command(doc! {"hello": 1, "topologyVersion": {"processId": server.process_id(), "counter": 5i64}, "maxAwaitTimeMS": 5, "$db": "admin"})
        .await;
    assert_eq!(future.get_i32("code"), Ok(31382));
    assert!(matches!(future.get("ok"), Some(Bson::Double(v)) if *v == 0.0));
}
