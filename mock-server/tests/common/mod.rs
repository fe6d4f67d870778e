//! A raw-wire test client for `serve_connection` over an in-memory pipe.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use bson::{doc, Bson, Document};
use mock_server::{serve_connection, ConnectionEnd, Server, ServerOptions};
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;
use wire::{
    read_message, write_message, Header, Message, MsgFlags, OpMsg, OpQuery, WireError,
    DEFAULT_MAX_MESSAGE_SIZE,
};

/// A fresh server with default options.
pub fn server() -> Arc<Server> {
    Arc::new(Server::new(ServerOptions::default()))
}

/// One client connection to `server` over a `tokio::io::duplex` pipe.
pub struct Conn {
    pub stream: DuplexStream,
    pub task: JoinHandle<ConnectionEnd>,
    next_id: i32,
}

/// Opens a connection (the server side runs on its own task).
pub fn connect(server: &Arc<Server>) -> Conn {
    let (client, server_side) = tokio::io::duplex(1 << 20);
    let task = tokio::spawn(serve_connection(Arc::clone(server), server_side, "duplex"));
    Conn {
        stream: client,
        task,
        next_id: 1,
    }
}

/// Opens a connection and completes an OP_MSG handshake with `appName`.
pub async fn connect_as(server: &Arc<Server>, app_name: &str) -> Conn {
    let mut conn = connect(server);
    let hello = conn
        .command(doc! {"hello": 1, "helloOk": true, "client": {"application": {"name": app_name}, "driver": {"name": "test", "version": "0"}}, "$db": "admin"})
        .await;
    assert_eq!(hello.get_f64("ok"), Ok(1.0), "{hello}");
    conn
}

impl Conn {
    /// Sends a message; returns its request id.
    pub async fn send(&mut self, message: &Message) -> i32 {
        let id = self.next_id;
        self.next_id += 1;
        write_message(&mut self.stream, message, id, 0)
            .await
            .expect("send");
        id
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send raw");
    }

    /// Reads the next message.
    pub async fn receive(&mut self) -> Result<(Header, Message), WireError> {
        read_message(&mut self.stream, DEFAULT_MAX_MESSAGE_SIZE).await
    }

    /// Runs a command over OP_MSG and returns the reply document.
    pub async fn command(&mut self, body: Document) -> Document {
        let id = self.send(&Message::Msg(OpMsg::command(body))).await;
        self.reply_to(id).await
    }

    /// Sends a command over OP_MSG without waiting; returns the request id.
    pub async fn start(&mut self, body: Document) -> i32 {
        self.send(&Message::Msg(OpMsg::command(body))).await
    }

    /// Reads the OP_MSG reply to `id`.
    pub async fn reply_to(&mut self, id: i32) -> Document {
        let (header, message) = self.receive().await.expect("reply");
        assert_eq!(header.response_to, id, "responseTo");
        match message {
            Message::Msg(msg) => {
                assert!(
                    !msg.flags.contains(MsgFlags::MORE_TO_COME),
                    "the server never streams"
                );
                msg.into_command().expect("reply body")
            }
            other => panic!("expected OP_MSG, got {other:?}"),
        }
    }

    /// Runs a command over legacy OP_QUERY on `admin.$cmd` and returns the OP_REPLY document.
    pub async fn legacy(&mut self, query: Document) -> Document {
        let message = Message::Query(OpQuery {
            flags: 0,
            full_collection_name: "admin.$cmd".into(),
            number_to_skip: 0,
            number_to_return: -1,
            query,
            return_fields_selector: None,
        });
        let id = self.send(&message).await;
        let (header, message) = self.receive().await.expect("reply");
        assert_eq!(header.response_to, id);
        match message {
            Message::Reply(mut reply) => {
                assert_eq!(reply.documents.len(), 1);
                reply.documents.remove(0)
            }
            other => panic!("expected OP_REPLY, got {other:?}"),
        }
    }

    /// Waits for the server side to end and says why.
    pub async fn end(self) -> ConnectionEnd {
        self.task.await.expect("connection task")
    }

    /// Closes the client side and waits for the server side to end.
    pub async fn close(self) -> ConnectionEnd {
        let Conn { stream, task, .. } = self;
        drop(stream);
        task.await.expect("connection task")
    }
}

/// `{ok: 1}`?
pub fn is_ok(reply: &Document) -> bool {
    reply.get_f64("ok") == Ok(1.0)
}

/// The error code of a reply (`None` if it succeeded).
pub fn code(reply: &Document) -> Option<i32> {
    if is_ok(reply) {
        None
    } else {
        reply.get_i32("code").ok()
    }
}

/// The documents of `cursor.firstBatch` / `cursor.nextBatch`.
pub fn batch(reply: &Document) -> Vec<Document> {
    let cursor = reply.get_document("cursor").expect("cursor");
    let items = cursor
        .get_array("firstBatch")
        .or_else(|_| cursor.get_array("nextBatch"))
        .expect("batch");
    items
        .iter()
        .filter_map(Bson::as_document)
        .cloned()
        .collect()
}

/// `cursor.id`.
pub fn cursor_id(reply: &Document) -> i64 {
    reply
        .get_document("cursor")
        .and_then(|c| c.get_i64("id"))
        .expect("cursor.id")
}

/// `serverStatus.connections.<field>` as seen from `conn`.
pub async fn connections(conn: &mut Conn, field: &str) -> i64 {
    let status = conn.command(doc! {"serverStatus": 1, "$db": "admin"}).await;
    let connections = status.get_document("connections").expect("connections");
    match connections.get(field) {
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        other => panic!("connections.{field} = {other:?}"),
    }
}

/// Configures `failCommand` through `conn` and checks the reply.
pub async fn fail_command(conn: &mut Conn, mode: Bson, data: Document) {
    let reply = conn
        .command(
            doc! {"configureFailPoint": "failCommand", "mode": mode, "data": data, "$db": "admin"},
        )
        .await;
    assert!(is_ok(&reply), "{reply}");
}
