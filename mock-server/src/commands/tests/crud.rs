//! insert, find, update, delete and count: filters, sort, projection, write errors.

use super::*;

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
