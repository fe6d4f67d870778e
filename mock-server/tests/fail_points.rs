//! Goal: `configureFailPoint`/`failCommand` behaves as mongod's (modes, filters, effects and
//! their order), on the wire.
//! Method: a control connection configures the fail point; other connections run commands
//! and observe errors, closes and delays (paused time for blocks).

mod common;

use std::time::Duration;

use bson::{doc, Bson};
use common::{code, connect, connect_as, fail_command, is_ok, server};
use mock_server::ConnectionEnd;
use tokio::time::Instant;
use wire::WireError;

fn always() -> Bson {
    Bson::String("alwaysOn".into())
}

#[tokio::test]
async fn times_mode_fails_n_matching_commands_then_turns_off() {
    let server = server();
    let mut control = connect(&server);
    fail_command(
        &mut control,
        Bson::Document(doc! {"times": 2}),
        doc! {"failCommands": ["insert"], "errorCode": 91},
    )
    .await;
    let mut conn = connect(&server);
    // A non-matching command does not consume `times`.
    assert!(is_ok(&conn.command(doc! {"ping": 1, "$db": "admin"}).await));
    for _ in 0..2 {
        let reply = conn
            .command(doc! {"insert": "c", "documents": [{}], "$db": "test"})
            .await;
        assert_eq!(code(&reply), Some(91));
        assert_eq!(reply.get_str("codeName"), Ok("ShutdownInProgress"));
        assert_eq!(
            reply.get_str("errmsg"),
            Ok("Failing command via 'failCommand' failpoint")
        );
    }
    let reply = conn
        .command(doc! {"insert": "c", "documents": [{}], "$db": "test"})
        .await;
    assert!(is_ok(&reply), "off after two firings: {reply}");
    assert_eq!(
        server.documents("test", "c").len(),
        1,
        "failed inserts did not run"
    );
    // `count` in the reply is the number of times the fail point fired so far.
    let off = control
        .command(doc! {"configureFailPoint": "failCommand", "mode": "off", "$db": "admin"})
        .await;
    assert_eq!(off.get_i64("count"), Ok(2));
}

#[tokio::test]
async fn skip_mode_passes_n_then_fires_forever() {
    let server = server();
    let mut control = connect(&server);
    fail_command(
        &mut control,
        Bson::Document(doc! {"skip": 2}),
        doc! {"failCommands": ["find"], "errorCode": 2, "errorLabels": ["MyLabel"]},
    )
    .await;
    let mut conn = connect(&server);
    for _ in 0..2 {
        assert!(is_ok(
            &conn.command(doc! {"find": "c", "$db": "test"}).await
        ));
    }
    for _ in 0..3 {
        let reply = conn.command(doc! {"find": "c", "$db": "test"}).await;
        assert_eq!(code(&reply), Some(2));
        assert_eq!(
            reply.get_array("errorLabels"),
            Ok(&vec![Bson::String("MyLabel".into())])
        );
    }
}

#[tokio::test]
async fn always_on_then_off() {
    let server = server();
    let mut control = connect(&server);
    fail_command(
        &mut control,
        always(),
        doc! {"failCommands": ["ping", "isMaster"], "errorCode": 1234},
    )
    .await;
    let mut conn = connect(&server);
    for _ in 0..3 {
        let reply = conn.command(doc! {"ping": 1, "$db": "admin"}).await;
        assert_eq!(code(&reply), Some(1234));
        assert_eq!(reply.get_str("codeName"), Ok("Location1234"));
    }
    // `isMaster` is an alias of `hello`, so listing it fails `hello` too.
    assert_eq!(
        code(&conn.command(doc! {"hello": 1, "$db": "admin"}).await),
        Some(1234)
    );
    // configureFailPoint itself is never failed, even with failAllCommands.
    fail_command(
        &mut control,
        always(),
        doc! {"failAllCommands": true, "errorCode": 1},
    )
    .await;
    fail_command(
        &mut control,
        Bson::String("off".into()),
        doc! {"failCommands": ["ping"], "errorCode": 1},
    )
    .await;
    assert!(is_ok(&conn.command(doc! {"ping": 1, "$db": "admin"}).await));
}

#[tokio::test]
async fn close_connection_ends_only_that_connection_without_reply() {
    let server = server();
    let mut control = connect(&server);
    fail_command(
        &mut control,
        Bson::Document(doc! {"times": 1}),
        doc! {"failCommands": ["find"], "closeConnection": true, "errorCode": 5},
    )
    .await;
    let mut victim = connect(&server);
    victim.start(doc! {"find": "c", "$db": "test"}).await;
    let read = victim.receive().await;
    assert!(
        matches!(read, Err(WireError::ConnectionClosed)),
        "no reply, just EOF: {read:?}"
    );
    assert_eq!(victim.end().await, ConnectionEnd::FailPointClosed);
    // closeConnection beats errorCode, and the server counted the close.
    assert_eq!(server.connection_stats().current, 1);
    let mut other = connect(&server);
    assert!(is_ok(
        &other.command(doc! {"find": "c", "$db": "test"}).await
    ));
}

#[tokio::test(start_paused = true)]
async fn block_connection_delays_only_the_blocked_connection() {
    let server = server();
    let mut control = connect(&server);
    fail_command(
        &mut control,
        Bson::Document(doc! {"times": 1}),
        doc! {"failCommands": ["ping"], "blockConnection": true, "blockTimeMS": 1_000},
    )
    .await;
    let mut blocked = connect(&server);
    let mut free = connect(&server);
    let started = Instant::now();
    let id = blocked.start(doc! {"ping": 1, "$db": "admin"}).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(is_ok(&free.command(doc! {"ping": 1, "$db": "admin"}).await));
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "other connections are not blocked"
    );
    assert_eq!(
        server.connection_stats().active,
        1,
        "the blocked command counts as active"
    );
    let reply = blocked.reply_to(id).await;
    assert!(
        is_ok(&reply),
        "block alone delays, then the command runs: {reply}"
    );
    assert!(started.elapsed() >= Duration::from_millis(1_000));
}

#[tokio::test(start_paused = true)]
async fn block_happens_before_close_and_needs_block_time() {
    let server = server();
    let mut control = connect(&server);
    fail_command(&mut control, always(), doc! {"failCommands": ["find"], "blockConnection": true, "blockTimeMS": 300, "closeConnection": true}).await;
    let mut conn = connect(&server);
    let started = Instant::now();
    conn.start(doc! {"find": "c", "$db": "test"}).await;
    assert!(conn.receive().await.is_err());
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "SERVER-53512: block, then close"
    );
    fail_command(
        &mut control,
        always(),
        doc! {"failCommands": ["find"], "blockConnection": true},
    )
    .await;
    let mut conn = connect(&server);
    assert_eq!(
        code(&conn.command(doc! {"find": "c", "$db": "test"}).await),
        Some(72),
        "InvalidOptions"
    );
}

#[tokio::test]
async fn app_name_filter_matches_the_handshake_app_name() {
    let server = server();
    let mut control = connect(&server);
    fail_command(
        &mut control,
        always(),
        doc! {"failCommands": ["ping"], "appName": "victim", "errorCode": 11600},
    )
    .await;
    let mut victim = connect_as(&server, "victim").await;
    let mut bystander = connect_as(&server, "bystander").await;
    let mut anonymous = connect(&server);
    assert_eq!(
        code(&victim.command(doc! {"ping": 1, "$db": "admin"}).await),
        Some(11600)
    );
    assert!(is_ok(
        &bystander.command(doc! {"ping": 1, "$db": "admin"}).await
    ));
    assert!(is_ok(
        &anonymous.command(doc! {"ping": 1, "$db": "admin"}).await
    ));
}

#[tokio::test]
async fn app_name_filter_applies_to_the_handshake_itself() {
    // CMAP/SDAM tests fail the handshake hello of a given appName with closeConnection.
    let server = server();
    let mut control = connect(&server);
    fail_command(&mut control, Bson::Document(doc! {"times": 1}), doc! {"failCommands": ["hello", "isMaster"], "appName": "handshakeFails", "closeConnection": true}).await;
    let mut conn = connect(&server);
    conn.start(
        doc! {"isMaster": 1, "client": {"application": {"name": "handshakeFails"}}, "$db": "admin"},
    )
    .await;
    assert!(conn.receive().await.is_err());
    let retry = connect_as(&server, "handshakeFails").await;
    drop(retry);
}

#[tokio::test]
async fn namespace_filter() {
    let server = server();
    let mut control = connect(&server);
    fail_command(
        &mut control,
        always(),
        doc! {"failCommands": ["find"], "namespace": "test.bad", "errorCode": 8},
    )
    .await;
    let mut conn = connect(&server);
    assert_eq!(
        code(&conn.command(doc! {"find": "bad", "$db": "test"}).await),
        Some(8)
    );
    assert!(is_ok(
        &conn.command(doc! {"find": "good", "$db": "test"}).await
    ));
}

#[tokio::test]
async fn write_concern_error_runs_the_write() {
    let server = server();
    let mut control = connect(&server);
    fail_command(
        &mut control,
        Bson::Document(doc! {"times": 1}),
        doc! {"failCommands": ["insert"], "writeConcernError": {"code": 64, "codeName": "WriteConcernFailed", "errmsg": "waiting for replication timed out", "errInfo": {"wtimeout": true}}},
    )
    .await;
    let mut conn = connect(&server);
    let reply = conn
        .command(doc! {"insert": "c", "documents": [{"_id": 1}], "$db": "test"})
        .await;
    assert!(is_ok(&reply));
    assert_eq!(reply.get_i32("n"), Ok(1));
    assert_eq!(
        reply
            .get_document("writeConcernError")
            .and_then(|w| w.get_i32("code")),
        Ok(64)
    );
    assert_eq!(
        server.documents("test", "c").len(),
        1,
        "the write is executed"
    );
    let again = conn
        .command(doc! {"insert": "c", "documents": [{"_id": 2}], "$db": "test"})
        .await;
    assert!(
        !again.contains_key("writeConcernError"),
        "times: 1 is used up"
    );
}

#[tokio::test]
async fn configure_fail_point_checks() {
    let server = server();
    let mut conn = connect(&server);
    let wrong_db = conn
        .command(doc! {"configureFailPoint": "failCommand", "mode": "alwaysOn", "$db": "test"})
        .await;
    assert_eq!(code(&wrong_db), Some(13));
    let unknown = conn
        .command(doc! {"configureFailPoint": "noSuchFailPoint", "mode": "alwaysOn", "$db": "admin"})
        .await;
    assert_eq!(code(&unknown), Some(266));
    assert_eq!(unknown.get_str("codeName"), Ok("FailPointSetFailed"));
    let bad_mode = conn
        .command(doc! {"configureFailPoint": "failCommand", "mode": {"times": -1}, "$db": "admin"})
        .await;
    assert!(!is_ok(&bad_mode));
}

#[tokio::test]
async fn activation_probability_is_seeded() {
    let server = server();
    let mut control = connect(&server);
    fail_command(
        &mut control,
        Bson::Document(doc! {"activationProbability": 0.5}),
        doc! {"failCommands": ["ping"], "errorCode": 3},
    )
    .await;
    let mut conn = connect(&server);
    let mut failed = 0;
    for _ in 0..200 {
        if !is_ok(&conn.command(doc! {"ping": 1, "$db": "admin"}).await) {
            failed += 1;
        }
    }
    assert!((50..150).contains(&failed), "about half: {failed}");
}

/// Yields until `n` commands are running (a blocked command counts as active).
async fn until_active(server: &mock_server::Server, n: u64) {
    for _ in 0..100_000 {
        if server.connection_stats().active >= n {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("{n} commands never became active");
}

#[tokio::test(start_paused = true)]
async fn block_release_window_releases_near_simultaneous_blocks_together() {
    use std::sync::Arc;

    use mock_server::{Server, ServerOptions};

    const BLOCK: Duration = Duration::from_millis(100);
    // (window, gap between the two blocks, released together?). The gaps are several
    // 1 ms timer ticks, so the outcome does not depend on where the ticks fall.
    let cases = [
        (Duration::ZERO, Duration::from_millis(5), false),
        (Duration::from_millis(10), Duration::from_millis(5), true),
        (Duration::from_millis(10), Duration::from_millis(20), false),
    ];
    for (window, gap, together) in cases {
        let server = Arc::new(Server::new(ServerOptions {
            block_release_window: window,
            ..ServerOptions::default()
        }));
        let mut control = connect(&server);
        fail_command(
            &mut control,
            always(),
            doc! {"failCommands": ["ping"], "blockConnection": true, "blockTimeMS": 100},
        )
        .await;
        let (mut a, mut b) = (connect(&server), connect(&server));
        let started_a = Instant::now();
        let id_a = a.start(doc! {"ping": 1, "$db": "admin"}).await;
        until_active(&server, 1).await;
        tokio::time::advance(gap).await;
        let started_b = Instant::now();
        let id_b = b.start(doc! {"ping": 1, "$db": "admin"}).await;
        until_active(&server, 2).await;
        let (done_a, done_b) = tokio::join!(
            async {
                assert!(is_ok(&a.reply_to(id_a).await));
                Instant::now()
            },
            async {
                assert!(is_ok(&b.reply_to(id_b).await));
                Instant::now()
            },
        );
        let case = format!("window {window:?}, gap {gap:?}");
        assert!(done_a - started_a >= BLOCK, "{case}: A ended early");
        assert!(done_b - started_b >= BLOCK, "{case}: B ended early");
        if together {
            assert_eq!(done_a, done_b, "{case}: released together");
        } else {
            assert!(done_a < done_b, "{case}: each at its own end");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_that_hangs_up_during_a_block_or_a_sleep_ends_its_connection_at_once() {
    // A driver that cancels an operation closes its socket while the server holds the
    // request; the connection must end then, not when the hold is over, or a pool judged
    // from the wire would look as if it kept the connection open.
    let server = server();
    let mut control = connect(&server);
    fail_command(
        &mut control,
        Bson::Document(doc! {"times": 1}),
        doc! {"failCommands": ["find"], "blockConnection": true, "blockTimeMS": 60_000},
    )
    .await;
    let started = tokio::time::Instant::now();
    let mut blocked = connect(&server);
    blocked.start(doc! {"find": "c", "$db": "test"}).await;
    assert_eq!(blocked.close().await, ConnectionEnd::ClientClosed);
    let mut sleeping = connect(&server);
    sleeping
        .start(doc! {"sleep": 1, "millis": 60_000, "$db": "admin"})
        .await;
    assert_eq!(sleeping.close().await, ConnectionEnd::ClientClosed);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the holds were not waited out"
    );
    assert_eq!(server.connection_stats().current, 1);
    // A sleep the client waits for still answers after its time.
    let mut patient = connect(&server);
    let reply = patient
        .command(doc! {"sleep": 1, "millis": 250, "$db": "admin"})
        .await;
    assert!(is_ok(&reply), "{reply}");
    assert!(started.elapsed() >= Duration::from_millis(250));
}
