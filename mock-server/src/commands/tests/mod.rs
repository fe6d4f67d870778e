//! Goal: each command answers as mongod does, checked without any wire or connection.
//! Method: call `run` directly on a fresh server and inspect the reply documents.
//!
//! The tests are grouped by command family; this module holds the helpers they share.

mod admin;
mod aggregate;
mod crud;
mod cursor;
mod handshake;
mod id_index;

use bson::{doc, Bson, Document};

use super::{run, Client};
use crate::server::{Server, ServerOptions};

/// A fresh server with the default options.
fn server() -> Server {
    Server::new(ServerOptions::default())
}

/// The client every command in these tests runs for.
fn client() -> Client {
    Client {
        id: 7,
        app_name: None,
        metadata_seen: false,
        peer: "test".into(),
    }
}

/// Runs `body` on `db`; it must succeed with `ok: 1`. Returns the reply.
fn ok(server: &Server, db: &str, body: Document) -> Document {
    let name = body.keys().next().cloned().unwrap_or_default();
    match run(server, &client(), &name, db, &body) {
        Ok(reply) => {
            assert_eq!(reply.get_f64("ok"), Ok(1.0), "{reply}");
            reply
        }
        Err(err) => panic!("{name} failed: {err}"),
    }
}

/// Runs `body` on `db`; it must fail. Returns the error code.
fn fails(server: &Server, db: &str, body: Document) -> i32 {
    let name = body.keys().next().cloned().unwrap_or_default();
    match run(server, &client(), &name, db, &body) {
        Ok(reply) => panic!("{name} succeeded: {reply}"),
        Err(err) => err.code,
    }
}

/// The documents of the reply's `cursor.<key>` batch (`firstBatch` or `nextBatch`).
fn batch(reply: &Document, key: &str) -> Vec<Document> {
    let cursor = reply.get_document("cursor").expect("cursor");
    cursor
        .get_array(key)
        .expect("batch")
        .iter()
        .filter_map(|d| d.as_document().cloned())
        .collect()
}

/// The reply's `cursor.id`.
fn cursor_id(reply: &Document) -> i64 {
    reply
        .get_document("cursor")
        .and_then(|c| c.get_i64("id"))
        .expect("cursor id")
}
