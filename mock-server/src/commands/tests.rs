//! Goal: each command answers as mongod does, checked without any wire or connection.
//! Method: call `run` directly on a fresh server and inspect the reply documents.

use bson::{doc, Bson, Document};

use super::{run, Client};
use crate::server::{Server, ServerOptions};

fn server() -> Server {
    Server::new(ServerOptions::default())
}

fn client() -> Client {
    Client {
        id: 7,
        app_name: None,
        metadata_seen: false,
        peer: "test".into(),
    }
}

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

fn fails(server: &Server, db: &str, body: Document) -> i32 {
    let name = body.keys().next().cloned().unwrap_or_default();
    match run(server, &client(), &name, db, &body) {
        Ok(reply) => panic!("{name} succeeded: {reply}"),
        Err(err) => err.code,
    }
}

fn batch(reply: &Document, key: &str) -> Vec<Document> {
    let cursor = reply.get_document("cursor").expect("cursor");
    cursor
        .get_array(key)
        .expect("batch")
        .iter()
        .filter_map(|d| d.as_document().cloned())
        .collect()
}

fn cursor_id(reply: &Document) -> i64 {
    reply
        .get_document("cursor")
        .and_then(|c| c.get_i64("id"))
        .expect("cursor id")
}

#[test]
fn hello_names_and_fields() {
    let s = server();
    let hello = ok(&s, "admin", doc! {"hello": 1, "helloOk": true});
    assert_eq!(hello.get_bool("isWritablePrimary"), Ok(true));
    assert_eq!(hello.get_bool("helloOk"), Ok(true));
    assert_eq!(hello.get_i32("connectionId"), Ok(7));
    assert_eq!(hello.get_i32("maxWireVersion"), Ok(21));
    assert_eq!(hello.get_i32("maxBsonObjectSize"), Ok(16_777_216));
    assert_eq!(hello.get_i32("maxMessageSizeBytes"), Ok(48_000_000));
    assert_eq!(hello.get_i32("maxWriteBatchSize"), Ok(100_000));
    assert_eq!(hello.get_i32("logicalSessionTimeoutMinutes"), Ok(30));
    assert!(hello.get_datetime("localTime").is_ok());
    let tv = hello
        .get_document("topologyVersion")
        .expect("topologyVersion");
    assert_eq!(tv.get_object_id("processId"), Ok(s.process_id()));
    assert_eq!(tv.get_i64("counter"), Ok(0));
    let legacy = ok(&s, "admin", doc! {"isMaster": 1});
    assert_eq!(legacy.get_bool("ismaster"), Ok(true));
    assert!(!legacy.contains_key("helloOk"), "helloOk only when asked");
    assert!(!legacy.contains_key("isWritablePrimary"));
}

#[test]
fn hello_as_replica_set_primary() {
    let standalone = ok(&server(), "admin", doc! {"hello": 1});
    assert!(
        !standalone.contains_key("setName"),
        "a standalone by default"
    );
    let s = Server::new(ServerOptions {
        host: "127.0.0.1:4242".into(),
        replica_set: Some("rs0".into()),
        ..ServerOptions::default()
    });
    let hello = ok(&s, "admin", doc! {"hello": 1});
    assert_eq!(hello.get_str("setName"), Ok("rs0"));
    assert_eq!(hello.get_bool("isWritablePrimary"), Ok(true));
    assert_eq!(hello.get_bool("secondary"), Ok(false));
    assert_eq!(hello.get_str("primary"), Ok("127.0.0.1:4242"));
    assert_eq!(hello.get_str("me"), Ok("127.0.0.1:4242"));
    assert_eq!(
        hello.get_array("hosts").expect("hosts"),
        &vec![Bson::String("127.0.0.1:4242".into())]
    );
    assert!(hello.get_object_id("electionId").is_ok());
    assert_eq!(hello.get_i32("setVersion"), Ok(1));
}

#[test]
fn unknown_command_is_59() {
    let s = server();
    let err = run(&s, &client(), "frobnicate", "db", &doc! {"frobnicate": 1}).expect_err("unknown");
    let reply = err.to_document();
    assert_eq!(reply.get_i32("code"), Ok(59));
    assert_eq!(reply.get_str("codeName"), Ok("CommandNotFound"));
    assert_eq!(reply.get_str("errmsg"), Ok("no such command: 'frobnicate'"));
    assert_eq!(reply.get_f64("ok"), Ok(0.0));
    // Command names are case-sensitive, as in mongod.
    assert_eq!(fails(&s, "db", doc! {"PING": 1}), 59);
}

#[test]
fn insert_find_with_filters_sort_projection() {
    let s = server();
    let docs: Vec<Bson> = (0..10)
        .map(|i| Bson::Document(doc! {"_id": i, "n": i, "even": i % 2 == 0, "sub": {"k": i * 10}}))
        .collect();
    let reply = ok(&s, "db", doc! {"insert": "c", "documents": docs});
    assert_eq!(reply.get_i32("n"), Ok(10));
    let reply = ok(
        &s,
        "db",
        doc! {"find": "c", "filter": {"even": true, "n": {"$gte": 2}, "sub.k": {"$lt": 80}}, "sort": {"n": -1}, "projection": {"_id": 0, "n": 1}},
    );
    assert_eq!(
        batch(&reply, "firstBatch"),
        vec![doc! {"n": 6}, doc! {"n": 4}, doc! {"n": 2}]
    );
    assert_eq!(cursor_id(&reply), 0);
    assert_eq!(
        reply.get_document("cursor").and_then(|c| c.get_str("ns")),
        Ok("db.c")
    );
    let reply = ok(
        &s,
        "db",
        doc! {"find": "c", "filter": {"$or": [{"n": {"$in": [1, 3]}}, {"n": {"$exists": false}}]}, "skip": 1, "limit": 5},
    );
    assert_eq!(
        batch(&reply, "firstBatch"),
        vec![doc! {"_id": 3, "n": 3, "even": false, "sub": {"k": 30}}]
    );
    // A missing collection is an empty result, not an error.
    let reply = ok(&s, "db", doc! {"find": "nothing"});
    assert!(batch(&reply, "firstBatch").is_empty());
}

#[test]
fn duplicate_ids_are_write_errors() {
    let s = server();
    ok(&s, "db", doc! {"insert": "c", "documents": [{"_id": 1}]});
    let reply = ok(
        &s,
        "db",
        doc! {"insert": "c", "documents": [{"_id": 2}, {"_id": 1}, {"_id": 3}]},
    );
    assert_eq!(
        reply.get_i32("n"),
        Ok(1),
        "ordered insert stops at the error"
    );
    let errors = reply.get_array("writeErrors").expect("writeErrors");
    let first = errors[0].as_document().expect("document");
    assert_eq!(first.get_i32("index"), Ok(1));
    assert_eq!(first.get_i32("code"), Ok(11000));
    assert!(first
        .get_str("errmsg")
        .is_ok_and(|m| m.starts_with("E11000 duplicate key error")));
    let reply = ok(
        &s,
        "db",
        doc! {"insert": "c", "documents": [{"_id": 1}, {"_id": 4}], "ordered": false},
    );
    assert_eq!(reply.get_i32("n"), Ok(1), "unordered insert goes on");
    assert_eq!(s.documents("db", "c").len(), 3);
}

#[test]
fn get_more_drains_batches_and_kill_cursors() {
    let s = server();
    let docs: Vec<Bson> = (0..250).map(|i| Bson::Document(doc! {"_id": i})).collect();
    ok(&s, "db", doc! {"insert": "c", "documents": docs});
    let first = ok(&s, "db", doc! {"find": "c"});
    assert_eq!(
        batch(&first, "firstBatch").len(),
        101,
        "mongod's default first batch"
    );
    let id = cursor_id(&first);
    assert_ne!(id, 0);
    let next = ok(
        &s,
        "db",
        doc! {"getMore": id, "collection": "c", "batchSize": 100},
    );
    assert_eq!(batch(&next, "nextBatch").len(), 100);
    assert_eq!(cursor_id(&next), id);
    let last = ok(&s, "db", doc! {"getMore": id, "collection": "c"});
    assert_eq!(batch(&last, "nextBatch").len(), 49);
    assert_eq!(cursor_id(&last), 0);
    assert_eq!(fails(&s, "db", doc! {"getMore": id, "collection": "c"}), 43);

    let open = ok(&s, "db", doc! {"find": "c", "batchSize": 2});
    let id = cursor_id(&open);
    let killed = ok(
        &s,
        "db",
        doc! {"killCursors": "c", "cursors": [id, 12345i64]},
    );
    assert_eq!(
        killed.get_array("cursorsKilled"),
        Ok(&vec![Bson::Int64(id)])
    );
    assert_eq!(
        killed.get_array("cursorsNotFound"),
        Ok(&vec![Bson::Int64(12345)])
    );
    assert_eq!(s.open_cursors(), 0);
    // singleBatch closes the cursor after the first batch.
    let single = ok(
        &s,
        "db",
        doc! {"find": "c", "batchSize": 2, "singleBatch": true},
    );
    assert_eq!(cursor_id(&single), 0);
}

#[test]
fn update_semantics() {
    let s = server();
    ok(
        &s,
        "db",
        doc! {"insert": "c", "documents": [{"_id": 1, "g": "a", "n": 1}, {"_id": 2, "g": "a", "n": 2}, {"_id": 3, "g": "b"}]},
    );
    let one = ok(
        &s,
        "db",
        doc! {"update": "c", "updates": [{"q": {"g": "a"}, "u": {"$inc": {"n": 10}}}]},
    );
    assert_eq!((one.get_i32("n"), one.get_i32("nModified")), (Ok(1), Ok(1)));
    let many = ok(
        &s,
        "db",
        doc! {"update": "c", "updates": [{"q": {"g": "a"}, "u": {"$set": {"seen": true}, "$unset": {"n": ""}}, "multi": true}]},
    );
    assert_eq!(
        (many.get_i32("n"), many.get_i32("nModified")),
        (Ok(2), Ok(2))
    );
    let noop = ok(
        &s,
        "db",
        doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"seen": true}}}]},
    );
    assert_eq!(
        (noop.get_i32("n"), noop.get_i32("nModified")),
        (Ok(1), Ok(0))
    );
    let replaced = ok(
        &s,
        "db",
        doc! {"update": "c", "updates": [{"q": {"_id": 3}, "u": {"r": 1}}]},
    );
    assert_eq!(replaced.get_i32("nModified"), Ok(1));
    assert_eq!(s.documents("db", "c")[2], doc! {"_id": 3, "r": 1});
    let upsert = ok(
        &s,
        "db",
        doc! {"update": "c", "updates": [{"q": {"_id": 9, "k": 1}, "u": {"$set": {"v": 2}}, "upsert": true}]},
    );
    assert_eq!(
        (upsert.get_i32("n"), upsert.get_i32("nModified")),
        (Ok(1), Ok(0))
    );
    let upserted = upsert.get_array("upserted").expect("upserted");
    assert_eq!(
        upserted[0].as_document(),
        Some(&doc! {"index": 0, "_id": 9})
    );
    assert_eq!(s.documents("db", "c")[3], doc! {"_id": 9, "k": 1, "v": 2});
    let bad = ok(
        &s,
        "db",
        doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"_id": 5}}}]},
    );
    let err = bad.get_array("writeErrors").expect("writeErrors")[0]
        .as_document()
        .cloned()
        .unwrap_or_default();
    assert_eq!(err.get_i32("code"), Ok(66));
}

#[test]
fn delete_and_count() {
    let s = server();
    let docs: Vec<Bson> = (0..6)
        .map(|i| Bson::Document(doc! {"_id": i, "k": i % 3}))
        .collect();
    ok(&s, "db", doc! {"insert": "c", "documents": docs});
    assert_eq!(ok(&s, "db", doc! {"count": "c"}).get_i32("n"), Ok(6));
    assert_eq!(
        ok(&s, "db", doc! {"count": "c", "query": {"k": 0}}).get_i32("n"),
        Ok(2)
    );
    assert_eq!(
        ok(&s, "db", doc! {"count": "c", "skip": 2, "limit": 3}).get_i32("n"),
        Ok(3)
    );
    let one = ok(
        &s,
        "db",
        doc! {"delete": "c", "deletes": [{"q": {"k": 1}, "limit": 1}]},
    );
    assert_eq!(one.get_i32("n"), Ok(1));
    let all = ok(
        &s,
        "db",
        doc! {"delete": "c", "deletes": [{"q": {"k": {"$ne": 2}}, "limit": 0}]},
    );
    assert_eq!(all.get_i32("n"), Ok(3));
    assert_eq!(ok(&s, "db", doc! {"count": "c"}).get_i32("n"), Ok(2));
    let bad = ok(
        &s,
        "db",
        doc! {"delete": "c", "deletes": [{"q": {}, "limit": 2}]},
    );
    assert!(bad.contains_key("writeErrors"));
    assert_eq!(fails(&s, "db", doc! {"delete": "c", "deletes": []}), 16);
}

#[test]
fn aggregate_count_documents_and_errors() {
    let s = server();
    let docs: Vec<Bson> = (0..5)
        .map(|i| Bson::Document(doc! {"_id": i, "k": i % 2}))
        .collect();
    ok(&s, "db", doc! {"insert": "c", "documents": docs});
    let pipeline = vec![
        Bson::Document(doc! {"$match": {"k": 1}}),
        Bson::Document(doc! {"$group": {"_id": 1, "n": {"$sum": 1}}}),
    ];
    let reply = ok(
        &s,
        "db",
        doc! {"aggregate": "c", "pipeline": pipeline, "cursor": {}},
    );
    assert_eq!(batch(&reply, "firstBatch"), vec![doc! {"_id": 1, "n": 2}]);
    let empty = vec![
        Bson::Document(doc! {"$match": {"k": 9}}),
        Bson::Document(doc! {"$group": {"_id": 1, "n": {"$sum": 1}}}),
    ];
    let reply = ok(
        &s,
        "db",
        doc! {"aggregate": "c", "pipeline": empty, "cursor": {}},
    );
    assert!(
        batch(&reply, "firstBatch").is_empty(),
        "an empty match is an empty batch"
    );
    let reply = ok(
        &s,
        "db",
        doc! {"aggregate": "c", "pipeline": [{"$sort": {"_id": -1}}, {"$limit": 3}], "cursor": {"batchSize": 1}},
    );
    assert_eq!(batch(&reply, "firstBatch"), vec![doc! {"_id": 4, "k": 0}]);
    assert_ne!(cursor_id(&reply), 0);
    assert_eq!(fails(&s, "db", doc! {"aggregate": "c", "pipeline": []}), 9);
    assert_eq!(
        fails(
            &s,
            "db",
            doc! {"aggregate": "c", "pipeline": [{"$bogus": 1}], "cursor": {}}
        ),
        40324
    );
}

#[test]
fn namespaces() {
    let s = server();
    ok(&s, "db", doc! {"create": "a"});
    assert_eq!(fails(&s, "db", doc! {"create": "a"}), 48);
    ok(&s, "db", doc! {"insert": "b", "documents": [{"x": 1}]});
    let list = ok(&s, "db", doc! {"listCollections": 1, "nameOnly": true});
    let names: Vec<String> = batch(&list, "firstBatch")
        .iter()
        .filter_map(|d| d.get_str("name").ok().map(str::to_string))
        .collect();
    assert_eq!(names, vec!["a", "b"]);
    let filtered = ok(
        &s,
        "db",
        doc! {"listCollections": 1, "filter": {"name": "b"}},
    );
    assert_eq!(batch(&filtered, "firstBatch").len(), 1);
    let dbs = ok(&s, "admin", doc! {"listDatabases": 1});
    assert_eq!(dbs.get_array("databases").map(Vec::len), Ok(1));
    assert_eq!(fails(&s, "db", doc! {"listDatabases": 1}), 13, "admin only");
    let indexes = ok(&s, "db", doc! {"listIndexes": "b"});
    assert_eq!(batch(&indexes, "firstBatch")[0].get_str("name"), Ok("_id_"));
    assert_eq!(fails(&s, "db", doc! {"listIndexes": "zz"}), 26);
    let dropped = ok(&s, "db", doc! {"drop": "b"});
    assert_eq!(dropped.get_str("ns"), Ok("db.b"));
    ok(&s, "db", doc! {"drop": "b"}); // mongod 7.0: dropping a missing collection succeeds
    ok(&s, "db", doc! {"dropDatabase": 1});
    assert!(s.documents("db", "a").is_empty());
    assert_eq!(
        ok(&s, "admin", doc! {"listDatabases": 1})
            .get_array("databases")
            .map(Vec::len),
        Ok(0)
    );
}

#[test]
fn admin_commands() {
    let s = server();
    let build = ok(&s, "admin", doc! {"buildInfo": 1});
    assert_eq!(build.get_str("version"), Ok("7.0.0"));
    assert_eq!(build.get_array("versionArray").map(Vec::len), Ok(4));
    let status = ok(&s, "admin", doc! {"serverStatus": 1});
    let connections = status.get_document("connections").expect("connections");
    for field in ["current", "available", "totalCreated", "active"] {
        assert!(connections.contains_key(field), "{field}");
    }
    assert_eq!(status.get_str("version"), Ok("7.0.0"));
    ok(&s, "admin", doc! {"endSessions": [{"id": 1}]});
    assert_eq!(
        fails(
            &s,
            "db",
            doc! {"configureFailPoint": "failCommand", "mode": "off"}
        ),
        13
    );
    let reply = ok(&s, "admin", doc! {"poolcheckFault": "set", "latencyMS": 5});
    assert_eq!(
        reply
            .get_document("faults")
            .and_then(|f| f.get_i64("latencyMS")),
        Ok(5)
    );
    ok(&s, "admin", doc! {"poolcheckFault": "clear"});
    assert_eq!(s.faults(), crate::faults::Faults::default());
    assert_eq!(
        fails(&s, "admin", doc! {"poolcheckFault": "set", "latencyMs": 5}),
        2
    );
}
