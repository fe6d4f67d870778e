//! Goal: the `_id` index behind point lookups never goes stale. Method: after every kind
//! of write, find by `_id` (the indexed path: plain value and `$eq`), count by `_id`, and
//! compare with a filter the index cannot answer (`$in`, which always scans), so a stale
//! index shows up as a disagreement or a wrong document.

use super::*;

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
