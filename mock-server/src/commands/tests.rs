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

// Goal: the `_id` index behind point lookups never goes stale. Method: after every kind of
// write, find by `_id` (the indexed path: plain value and `$eq`), count by `_id`, and
// compare with a filter the index cannot answer (`$in`, which always scans), so a stale
// index shows up as a disagreement or a wrong document.

/// The documents `{_id: id}` finds, through the index (plain and `$eq` forms, which must
/// agree) and through a scan (`$in`, never indexed), checked to agree with each other and
/// with `count`.
fn by_id(s: &Server, coll: &str, id: Bson) -> Vec<Document> {
    let indexed = batch(
        &ok(s, "db", doc! {"find": coll, "filter": {"_id": id.clone()}}),
        "firstBatch",
    );
    let eq = batch(
        &ok(
            s,
            "db",
            doc! {"find": coll, "filter": {"_id": {"$eq": id.clone()}}},
        ),
        "firstBatch",
    );
    let scanned = batch(
        &ok(
            s,
            "db",
            doc! {"find": coll, "filter": {"_id": {"$in": [id.clone()]}}},
        ),
        "firstBatch",
    );
    assert_eq!(
        indexed, eq,
        "{{_id: {id}}} and {{_id: {{$eq: {id}}}}} disagree"
    );
    assert_eq!(
        indexed, scanned,
        "the index and a scan disagree on _id {id}"
    );
    let n = ok(s, "db", doc! {"count": coll, "query": {"_id": id.clone()}});
    assert_eq!(
        n.get_i32("n"),
        Ok(indexed.len() as i32),
        "count by _id {id}"
    );
    indexed
}

/// The single document with `_id: id`, which must exist.
fn one_by_id(s: &Server, coll: &str, id: impl Into<Bson>) -> Document {
    let id = id.into();
    let mut found = by_id(s, coll, id.clone());
    assert_eq!(
        found.len(),
        1,
        "exactly one document with _id {id}: {found:?}"
    );
    found.remove(0)
}

fn insert(s: &Server, coll: &str, docs: Vec<Document>) {
    let reply = ok(s, "db", doc! {"insert": coll, "documents": docs});
    assert!(!reply.contains_key("writeErrors"), "{reply}");
}

#[test]
fn id_index_follows_inserts_and_finds_every_numeric_form() {
    let s = server();
    insert(
        &s,
        "c",
        (0..20).map(|i| doc! {"_id": i, "v": i * 10}).collect(),
    );
    insert(&s, "c", vec![doc! {"_id": "text", "v": -1}]);
    for i in 0..20 {
        assert_eq!(one_by_id(&s, "c", i).get_i32("v"), Ok(i * 10));
    }
    // Equal numbers of other widths find the same document, as mongod's matcher does.
    assert_eq!(one_by_id(&s, "c", 7_i64).get_i32("v"), Ok(70));
    assert_eq!(one_by_id(&s, "c", 7.0).get_i32("v"), Ok(70));
    assert_eq!(one_by_id(&s, "c", -0.0).get_i32("v"), Ok(0));
    assert_eq!(one_by_id(&s, "c", "text").get_i32("v"), Ok(-1));
    // Absent values, and values of other types, find nothing.
    for missing in [Bson::Int32(20), Bson::Double(7.5), Bson::String("7".into())] {
        assert!(by_id(&s, "c", missing).is_empty());
    }
    // Further conditions still apply to the indexed candidate.
    let both = |v: i32| {
        batch(
            &ok(&s, "db", doc! {"find": "c", "filter": {"_id": 3, "v": v}}),
            "firstBatch",
        )
    };
    assert_eq!(both(30).len(), 1);
    assert!(both(31).is_empty());
    // A missing collection finds nothing.
    assert!(by_id(&s, "nothing", Bson::Int32(1)).is_empty());
}

#[test]
fn id_index_follows_deletes_and_reinserts() {
    let s = server();
    insert(&s, "c", (0..10).map(|i| doc! {"_id": i, "v": i}).collect());
    // Delete from the middle: every later document moves up one position.
    let del = ok(
        &s,
        "db",
        doc! {"delete": "c", "deletes": [{"q": {"_id": 4}, "limit": 1}]},
    );
    assert_eq!(del.get_i32("n"), Ok(1));
    assert!(by_id(&s, "c", Bson::Int32(4)).is_empty());
    for i in (0..10).filter(|i| *i != 4) {
        assert_eq!(one_by_id(&s, "c", i).get_i32("v"), Ok(i));
    }
    // Delete several at once by a scanned filter, then re-insert one of the same _ids.
    let del = ok(
        &s,
        "db",
        doc! {"delete": "c", "deletes": [{"q": {"v": {"$in": [0, 5, 9]}}, "limit": 0}]},
    );
    assert_eq!(del.get_i32("n"), Ok(3));
    for gone in [0, 4, 5, 9] {
        assert!(by_id(&s, "c", Bson::Int32(gone)).is_empty());
    }
    insert(&s, "c", vec![doc! {"_id": 5, "v": 500}]);
    assert_eq!(one_by_id(&s, "c", 5).get_i32("v"), Ok(500));
    for i in [1, 2, 3, 6, 7, 8] {
        assert_eq!(one_by_id(&s, "c", i).get_i32("v"), Ok(i));
    }
    // Re-inserting an existing _id is still a duplicate key.
    let dup = ok(&s, "db", doc! {"insert": "c", "documents": [{"_id": 5.0}]});
    assert_eq!(dup.get_array("writeErrors").map(Vec::len), Ok(1), "{dup}");
    // The re-inserted document went to the end, after the survivors.
    let all = batch(&ok(&s, "db", doc! {"find": "c"}), "firstBatch");
    let ids: Vec<i32> = all.iter().filter_map(|d| d.get_i32("_id").ok()).collect();
    assert_eq!(ids, [1, 2, 3, 6, 7, 8, 5]);
    // Deleting by _id with limit 0 and an id that is gone deletes nothing.
    let del = ok(
        &s,
        "db",
        doc! {"delete": "c", "deletes": [{"q": {"_id": 4}, "limit": 0}]},
    );
    assert_eq!(del.get_i32("n"), Ok(0));
}

#[test]
fn id_index_follows_updates_replacements_and_upserts() {
    let s = server();
    insert(&s, "c", (0..5).map(|i| doc! {"_id": i, "v": i}).collect());
    // An operator update of another field, by _id.
    let up = ok(
        &s,
        "db",
        doc! {"update": "c", "updates": [{"q": {"_id": 2}, "u": {"$set": {"v": 20, "w": 1}}}]},
    );
    assert_eq!((up.get_i32("n"), up.get_i32("nModified")), (Ok(1), Ok(1)));
    assert_eq!(one_by_id(&s, "c", 2), doc! {"_id": 2, "v": 20, "w": 1});
    // A replacement by a scanned filter keeps the _id and the position.
    let up = ok(
        &s,
        "db",
        doc! {"update": "c", "updates": [{"q": {"v": 3}, "u": {"x": "replaced"}}]},
    );
    assert_eq!(up.get_i32("nModified"), Ok(1));
    assert_eq!(one_by_id(&s, "c", 3), doc! {"_id": 3, "x": "replaced"});
    // Setting _id to an equal number of another type re-stores it; it is still found.
    let up = ok(
        &s,
        "db",
        doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"_id": 1.0}}}]},
    );
    assert_eq!(up.get_i32("n"), Ok(1));
    assert_eq!(one_by_id(&s, "c", 1).get_f64("_id"), Ok(1.0));
    // Changing _id is refused and leaves the index alone.
    let up = ok(
        &s,
        "db",
        doc! {"update": "c", "updates": [{"q": {"_id": 4}, "u": {"$set": {"_id": 40}}}]},
    );
    assert!(up.contains_key("writeErrors"), "{up}");
    assert_eq!(one_by_id(&s, "c", 4).get_i32("v"), Ok(4));
    assert!(by_id(&s, "c", Bson::Int32(40)).is_empty());
    // An upsert by _id that matches nothing inserts; the new document is found by _id.
    let up = ok(
        &s,
        "db",
        doc! {"update": "c", "updates": [{"q": {"_id": 9}, "u": {"$set": {"v": 9}}, "upsert": true}]},
    );
    assert_eq!(up.get_array("upserted").map(Vec::len), Ok(1), "{up}");
    assert_eq!(one_by_id(&s, "c", 9), doc! {"_id": 9, "v": 9});
    // The same upsert again now matches the indexed document instead of inserting.
    let up = ok(
        &s,
        "db",
        doc! {"update": "c", "updates": [{"q": {"_id": {"$eq": 9}}, "u": {"$inc": {"v": 1}}, "upsert": true}]},
    );
    assert!(!up.contains_key("upserted"), "{up}");
    assert_eq!(one_by_id(&s, "c", 9).get_i32("v"), Ok(10));
    // A replacement upsert with a string _id.
    ok(
        &s,
        "db",
        doc! {"update": "c", "updates": [{"q": {"_id": "s"}, "u": {"r": 1}, "upsert": true}]},
    );
    assert_eq!(one_by_id(&s, "c", "s"), doc! {"_id": "s", "r": 1});
    assert_eq!(s.documents("db", "c").len(), 7);
}

#[test]
fn id_index_goes_with_dropped_collections_and_databases() {
    let s = server();
    insert(&s, "c", vec![doc! {"_id": 1, "v": "old"}]);
    insert(&s, "d", vec![doc! {"_id": 1, "v": "other"}]);
    ok(&s, "db", doc! {"drop": "c"});
    assert!(by_id(&s, "c", Bson::Int32(1)).is_empty());
    // The other collection's index is untouched.
    assert_eq!(one_by_id(&s, "d", 1).get_str("v"), Ok("other"));
    // Re-creating the collection starts a fresh index: the old _id is free again.
    insert(&s, "c", vec![doc! {"_id": 1, "v": "new"}]);
    assert_eq!(one_by_id(&s, "c", 1).get_str("v"), Ok("new"));
    ok(&s, "db", doc! {"dropDatabase": 1});
    assert!(by_id(&s, "c", Bson::Int32(1)).is_empty());
    assert!(by_id(&s, "d", Bson::Int32(1)).is_empty());
    insert(&s, "d", vec![doc! {"_id": 1, "v": "again"}]);
    assert_eq!(one_by_id(&s, "d", 1).get_str("v"), Ok("again"));
}

#[test]
fn id_lookup_keeps_find_options() {
    let s = server();
    insert(
        &s,
        "c",
        vec![doc! {"_id": 1, "a": 1, "b": 2}, doc! {"_id": 2}],
    );
    let found = batch(
        &ok(
            &s,
            "db",
            doc! {"find": "c", "filter": {"_id": 1}, "projection": {"b": 1}, "limit": 1, "singleBatch": true},
        ),
        "firstBatch",
    );
    assert_eq!(found, [doc! {"_id": 1, "b": 2}]);
    let skipped = ok(
        &s,
        "db",
        doc! {"find": "c", "filter": {"_id": 1}, "skip": 1},
    );
    assert!(batch(&skipped, "firstBatch").is_empty());
    assert_eq!(cursor_id(&skipped), 0);
    // Filters the index cannot answer exactly still scan: null, documents, $or.
    insert(&s, "c", vec![doc! {"_id": {"k": 1}, "n": 1}]);
    let nested = batch(
        &ok(&s, "db", doc! {"find": "c", "filter": {"_id": {"k": 1.0}}}),
        "firstBatch",
    );
    assert_eq!(nested.len(), 1, "{{k: 1.0}} equals {{k: 1}}");
    let either = batch(
        &ok(
            &s,
            "db",
            doc! {"find": "c", "filter": {"$or": [{"_id": 1}, {"_id": 2}]}},
        ),
        "firstBatch",
    );
    assert_eq!(either.len(), 2);
}
