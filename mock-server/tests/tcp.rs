//! Goal: the TCP front end serves real sockets and shuts down cleanly.
//! Method: a `MockServer` on a loopback port (port 0), raw wire messages over `TcpStream`.

use std::time::Duration;

use bson::doc;
use mock_server::{Config, Faults, MockServer, ServerOptions};
use tokio::net::TcpStream;
use wire::{read_message, write_message, Message, OpMsg, WireError, DEFAULT_MAX_MESSAGE_SIZE};

async fn ping(stream: &mut TcpStream, id: i32) -> Result<bson::Document, WireError> {
    let message = Message::Msg(OpMsg::command(doc! {"ping": 1, "$db": "admin"}));
    write_message(stream, &message, id, 0).await?;
    let (header, reply) = read_message(stream, DEFAULT_MAX_MESSAGE_SIZE).await?;
    assert_eq!(header.response_to, id);
    match reply {
        Message::Msg(msg) => msg.into_command(),
        other => panic!("expected OP_MSG, got {other:?}"),
    }
}

#[tokio::test]
async fn serves_loopback_connections_and_shuts_down() {
    let mock = MockServer::start(ServerOptions::default(), "127.0.0.1:0")
        .await
        .expect("bind");
    let mut a = TcpStream::connect(mock.addr()).await.expect("connect");
    let mut b = TcpStream::connect(mock.addr()).await.expect("connect");
    assert_eq!(ping(&mut a, 1).await.expect("reply").get_f64("ok"), Ok(1.0));
    assert_eq!(ping(&mut b, 1).await.expect("reply").get_f64("ok"), Ok(1.0));
    assert!(a.nodelay().is_ok());
    assert_eq!(mock.server().connection_stats().current, 2);
    let server = std::sync::Arc::clone(mock.server());
    mock.shutdown().await;
    assert_eq!(
        server.connection_stats().current,
        0,
        "shutdown closes every connection"
    );
    let after = tokio::time::timeout(Duration::from_secs(5), ping(&mut a, 2))
        .await
        .expect("no hang");
    assert!(after.is_err(), "the connection was closed");
}

#[tokio::test]
async fn refused_connections_see_eof_and_others_keep_working() {
    let mock = MockServer::start(ServerOptions::default(), "127.0.0.1:0")
        .await
        .expect("bind");
    let mut healthy = TcpStream::connect(mock.addr()).await.expect("connect");
    assert!(ping(&mut healthy, 1).await.is_ok());
    mock.server().set_faults(Faults {
        refuse_connections: true,
        ..Faults::default()
    });
    let mut refused = TcpStream::connect(mock.addr())
        .await
        .expect("the TCP handshake completes");
    let result = tokio::time::timeout(Duration::from_secs(5), ping(&mut refused, 1))
        .await
        .expect("no hang");
    assert!(result.is_err());
    assert!(
        ping(&mut healthy, 2).await.is_ok(),
        "established connections are untouched"
    );
    mock.shutdown().await;
}

#[test]
fn default_config_is_a_healthy_mongod_on_27017() {
    let config = Config::default();
    assert_eq!((config.port, config.bind.as_str()), (27017, "127.0.0.1"));
    assert_eq!(config.faults(), Faults::default());
    let options = config.server_options("localhost:27017".into());
    assert_eq!(options.max_wire_version, 21);
    assert!(options.topology_version);
    assert_eq!(options.replica_set, None, "a standalone by default");
    let replica = Config {
        replica_set: Some("rs0".into()),
        ..Config::default()
    };
    assert_eq!(
        replica
            .server_options("localhost:27017".into())
            .replica_set
            .as_deref(),
        Some("rs0")
    );
}
