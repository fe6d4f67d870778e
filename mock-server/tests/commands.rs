//! Goal: CRUD as the drivers send it works end to end over the wire.
//! Method: raw OP_MSG messages (with kind-1 document sequences and moreToCome) over
//! `tokio::io::duplex`, replies checked field by field.

mod common;

use bson::{doc, Bson, Document};
use common::{batch, code, connect, cursor_id, is_ok, server};
use wire::{Message, MsgFlags, OpMsg, Section};

fn insert_with_sequence(coll: &str, docs: Vec<Document>) -> Message {
    // Drivers put the documents in a kind-1 section, not in the body.
    Message::Msg(OpMsg {
        flags: MsgFlags::empty(),
        sections: vec![
            Section::Body(
                doc! {"insert": coll, "ordered": true, "$db": "test", "lsid": {"id": bson::Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes: vec![0; 16] }}},
            ),
            Section::Sequence {
                identifier: "documents".into(),
                documents: docs,
            },
        ],
        checksum: None,
    })
}

#[tokio::test]
async fn insert_find_and_get_more_across_batches() {
    let server = server();
    let mut conn = connect(&server);
    let docs: Vec<Document> = (0..25).map(|i| doc! {"_id": i, "v": i * 2}).collect();
    let id = conn.send(&insert_with_sequence("items", docs)).await;
    let reply = conn.reply_to(id).await;
    assert_eq!(reply.get_i32("n"), Ok(25), "{reply}");

    let first = conn.command(doc! {"find": "items", "filter": {"v": {"$gte": 10}}, "sort": {"_id": 1}, "batchSize": 7, "$db": "test"}).await;
    assert_eq!(batch(&first).len(), 7);
    let cursor = cursor_id(&first);
    assert_ne!(cursor, 0);
    let mut seen: Vec<i32> = batch(&first)
        .iter()
        .filter_map(|d| d.get_i32("_id").ok())
        .collect();
    loop {
        let more = conn
            .command(doc! {"getMore": cursor, "collection": "items", "batchSize": 7, "$db": "test"})
            .await;
        assert!(is_ok(&more), "{more}");
        seen.extend(batch(&more).iter().filter_map(|d| d.get_i32("_id").ok()));
        if cursor_id(&more) == 0 {
            break;
        }
    }
    assert_eq!(seen, (5..25).collect::<Vec<i32>>());
    let gone = conn
        .command(doc! {"getMore": cursor, "collection": "items", "$db": "test"})
        .await;
    assert_eq!(code(&gone), Some(43));
    assert_eq!(gone.get_str("codeName"), Ok("CursorNotFound"));
}

#[tokio::test]
async fn find_one_shape() {
    // find_one sends limit 1 + singleBatch.
    let server = server();
    server
        .insert_documents("test", "c", (0..3).map(|i| doc! {"_id": i}).collect())
        .expect("seed");
    let mut conn = connect(&server);
    let reply = conn
        .command(doc! {"find": "c", "filter": {}, "limit": 1, "singleBatch": true, "$db": "test"})
        .await;
    assert_eq!(batch(&reply), vec![doc! {"_id": 0}]);
    assert_eq!(cursor_id(&reply), 0);
    assert_eq!(server.open_cursors(), 0);
}

#[tokio::test]
async fn update_delete_count_aggregate_over_the_wire() {
    let server = server();
    let mut conn = connect(&server);
    let docs: Vec<Bson> = (0..6)
        .map(|i| Bson::Document(doc! {"_id": i, "k": i % 2}))
        .collect();
    assert!(is_ok(
        &conn
            .command(doc! {"insert": "c", "documents": docs, "$db": "test"})
            .await
    ));

    let update = conn
        .command(doc! {"update": "c", "updates": [{"q": {"k": 1}, "u": {"$set": {"odd": true}}, "multi": true}], "$db": "test"})
        .await;
    assert_eq!(
        (update.get_i32("n"), update.get_i32("nModified")),
        (Ok(3), Ok(3))
    );
    let upsert = conn
        .command(doc! {"update": "c", "updates": [{"q": {"_id": 100}, "u": {"$inc": {"hits": 1}}, "upsert": true}], "$db": "test"})
        .await;
    assert!(upsert.get_array("upserted").is_ok(), "{upsert}");

    let delete = conn
        .command(doc! {"delete": "c", "deletes": [{"q": {"k": 0}, "limit": 0}], "$db": "test"})
        .await;
    assert_eq!(delete.get_i32("n"), Ok(3));
    let count = conn.command(doc! {"count": "c", "$db": "test"}).await;
    assert_eq!(count.get_i32("n"), Ok(4));

    let counted = conn
        .command(doc! {"aggregate": "c", "pipeline": [{"$match": {"odd": true}}, {"$group": {"_id": 1, "n": {"$sum": 1}}}], "cursor": {}, "$db": "test"})
        .await;
    assert_eq!(batch(&counted), vec![doc! {"_id": 1, "n": 3}]);
    let projected = conn
        .command(doc! {"aggregate": "c", "pipeline": [{"$sort": {"_id": -1}}, {"$skip": 1}, {"$limit": 2}, {"$project": {"_id": 1}}], "cursor": {}, "$db": "test"})
        .await;
    assert_eq!(batch(&projected), vec![doc! {"_id": 5}, doc! {"_id": 3}]);
    let total = conn
        .command(
            doc! {"aggregate": "c", "pipeline": [{"$count": "total"}], "cursor": {}, "$db": "test"},
        )
        .await;
    assert_eq!(batch(&total), vec![doc! {"total": 4}]);
}

#[tokio::test]
async fn unknown_command_is_command_not_found() {
    let server = server();
    let mut conn = connect(&server);
    let reply = conn.command(doc! {"notACommand": 1, "$db": "admin"}).await;
    assert_eq!(reply.get_f64("ok"), Ok(0.0));
    assert_eq!(reply.get_i32("code"), Ok(59));
    assert_eq!(reply.get_str("codeName"), Ok("CommandNotFound"));
    assert_eq!(
        reply.get_str("errmsg"),
        Ok("no such command: 'notACommand'")
    );
}

#[tokio::test]
async fn more_to_come_gets_no_reply() {
    // A w:0 insert with moreToCome must not be answered: answering would make the
    // client read a reply to a request it never waits for (PyMongo: "Got response id X").
    let server = server();
    let mut conn = connect(&server);
    let mut unacknowledged = OpMsg::command(
        doc! {"insert": "c", "documents": [{"_id": 1}], "writeConcern": {"w": 0}, "$db": "test"},
    );
    unacknowledged.flags = MsgFlags::MORE_TO_COME;
    conn.send(&Message::Msg(unacknowledged)).await;
    // The next reply on the wire must answer the ping, not the insert.
    let ping = conn.command(doc! {"ping": 1, "$db": "admin"}).await;
    assert!(is_ok(&ping));
    assert_eq!(
        server.documents("test", "c"),
        vec![doc! {"_id": 1}],
        "the write was executed"
    );
}

#[tokio::test]
async fn checksummed_requests_are_answered() {
    let server = server();
    let mut conn = connect(&server);
    let mut ping = OpMsg::command(doc! {"ping": 1, "$db": "admin"});
    ping.flags = MsgFlags::CHECKSUM_PRESENT;
    let id = conn.send(&Message::Msg(ping)).await;
    assert!(is_ok(&conn.reply_to(id).await));
}

#[tokio::test]
async fn body_and_sequence_with_the_same_field_is_an_error() {
    let server = server();
    let mut conn = connect(&server);
    let message = Message::Msg(OpMsg {
        flags: MsgFlags::empty(),
        sections: vec![
            Section::Body(doc! {"insert": "c", "documents": [], "$db": "test"}),
            Section::Sequence {
                identifier: "documents".into(),
                documents: vec![doc! {"_id": 1}],
            },
        ],
        checksum: None,
    });
    let id = conn.send(&message).await;
    let reply = conn.reply_to(id).await;
    assert!(!is_ok(&reply), "{reply}");
    assert!(server.documents("test", "c").is_empty());
    assert!(
        is_ok(&conn.command(doc! {"ping": 1, "$db": "admin"}).await),
        "the connection stays usable"
    );
}
