//! Unit tests of the store: ordering, the unique `_id` index and namespace bounds.

use super::*;
use bson::doc;

#[test]
fn insert_generates_id_and_keeps_order() {
    let mut store = Store::new();
    store.insert("db", "c", doc! {"a": 1}).expect("insert");
    store
        .insert("db", "c", doc! {"_id": 5, "a": 2})
        .expect("insert");
    let docs = store.collection("db", "c").expect("exists").documents();
    assert!(docs[0].get_object_id("_id").is_ok());
    assert_eq!(docs[1], doc! {"_id": 5, "a": 2});
    assert_eq!(store.documents_total(), 2);
}

#[test]
fn duplicate_ids_are_e11000_across_numeric_types() {
    let mut store = Store::new();
    store.insert("db", "c", doc! {"_id": 1}).expect("insert");
    let err = store
        .insert("db", "c", doc! {"_id": 1.0})
        .expect_err("duplicate");
    assert_eq!(err.code, 11000);
    assert!(err
        .errmsg
        .starts_with("E11000 duplicate key error collection: db.c index: _id_"));
}

#[test]
fn drops_update_counters() {
    let mut store = Store::new();
    store.insert("db", "a", doc! {}).expect("insert");
    store.insert("db", "b", doc! {}).expect("insert");
    assert!(store.drop_collection("db", "a"));
    assert!(!store.drop_collection("db", "a"));
    assert_eq!(store.documents_total(), 1);
    assert!(store.drop_database("db"));
    assert_eq!(store.documents_total(), 0);
    assert_eq!(store.namespaces_total, 0);
    assert!(store.database("db").is_none());
}

/// Asserts the index invariant: one entry per document, each pointing at the
/// document's own position, found again from the stored `_id`.
fn assert_index_consistent(store: &Store, db: &str, coll: &str) {
    let Some(c) = store.collection(db, coll) else {
        return;
    };
    assert_eq!(c.ids.len(), c.docs.len(), "one index entry per document");
    assert_eq!(c.keys.len(), c.docs.len(), "one key per document");
    for (i, doc) in c.docs.iter().enumerate() {
        let id = doc.get("_id").expect("every stored document has an _id");
        assert_eq!(c.position_of_id(id), Some(i), "_id {id} at {i}");
        assert_eq!(c.document_by_id(id), Some(doc));
    }
}

#[test]
fn index_stays_consistent_through_random_writes() {
    // A fixed-seed mix of inserts (some duplicates), replacements and removals of
    // single and several positions, checked against the invariant after each step.
    let mut store = Store::new();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move |bound: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % bound
    };
    for step in 0..2_000 {
        let len = store.collection("db", "c").map_or(0, Collection::len);
        match next(4) {
            0 | 1 => {
                let id = next(64) as i32;
                let id = if next(2) == 0 {
                    Bson::Int32(id)
                } else {
                    Bson::Double(f64::from(id))
                };
                let _ = store.insert("db", "c", doc! {"_id": id, "step": step});
            }
            2 if len > 0 => {
                let at = next(len as u64) as usize;
                let old = store.collection("db", "c").expect("exists").documents()[at].clone();
                let mut new = old.clone();
                new.insert("step", step);
                assert_eq!(store.replace_at("db", "c", at, new), Ok(true));
            }
            3 if len > 0 => {
                let mut positions: Vec<usize> = (0..1 + next(3))
                    .map(|_| next(len as u64) as usize)
                    .collect();
                positions.sort_unstable();
                positions.dedup();
                let before = store.documents_total();
                let removed = store.remove_at("db", "c", &positions);
                assert_eq!(removed, positions.len());
                assert_eq!(store.documents_total(), before - removed);
            }
            _ => {}
        }
        assert_index_consistent(&store, "db", "c");
    }
}

#[test]
fn replace_re_keys_an_id_stored_in_another_form() {
    // 2^60 as an integer and as a double compare equal but normalise to different
    // keys; an update may store either, and the index must follow.
    let big = 1_i64 << 60;
    let mut store = Store::new();
    store.insert("db", "c", doc! {"_id": big}).expect("insert");
    store.insert("db", "c", doc! {"_id": 2}).expect("insert");
    assert_eq!(
        store.replace_at("db", "c", 0, doc! {"_id": big as f64, "v": 1}),
        Ok(true)
    );
    assert_index_consistent(&store, "db", "c");
    let c = store.collection("db", "c").expect("exists");
    assert_eq!(c.position_of_id(&Bson::Double(big as f64)), Some(0));
    assert_eq!(c.position_of_id(&Bson::Int64(big)), None);
    // A replacement whose _id is another document's key is refused, unchanged.
    assert_eq!(
        store
            .replace_at("db", "c", 1, doc! {"_id": big as f64})
            .map_err(|e| e.code),
        Err(11000)
    );
    assert_eq!(
        store.collection("db", "c").expect("exists").documents()[1],
        doc! {"_id": 2}
    );
    assert_index_consistent(&store, "db", "c");
}

#[test]
fn exact_lookups_cover_the_common_id_types() {
    assert!(id_lookup_is_exact(&Bson::Int32(-5)));
    assert!(id_lookup_is_exact(&Bson::Int64(1 << 40)));
    assert!(!id_lookup_is_exact(&Bson::Int64(1 << 60)));
    assert!(id_lookup_is_exact(&Bson::Double(2.5)));
    assert!(id_lookup_is_exact(&Bson::Double(f64::NAN)));
    assert!(!id_lookup_is_exact(&Bson::Double(1.0e16)));
    assert!(id_lookup_is_exact(&Bson::String("a".into())));
    assert!(id_lookup_is_exact(&Bson::ObjectId(ObjectId::new())));
    assert!(!id_lookup_is_exact(&Bson::Null));
    assert!(!id_lookup_is_exact(&Bson::Document(doc! {"a": 1})));
    assert!(!id_lookup_is_exact(&Bson::Array(vec![Bson::Int32(1)])));
    // Equal values share a key: every width of a number, every NaN, symbol and string.
    let key = |v: Bson| IdKey::of(&v);
    assert_eq!(key(Bson::Int32(3)), key(Bson::Int64(3)));
    assert_eq!(key(Bson::Int32(3)), key(Bson::Double(3.0)));
    assert_eq!(key(Bson::Double(0.0)), key(Bson::Double(-0.0)));
    assert_eq!(key(Bson::Double(f64::NAN)), key(Bson::Double(-f64::NAN)));
    assert_eq!(key(Bson::String("s".into())), key(Bson::Symbol("s".into())));
    assert_eq!(
        key(Bson::Document(doc! {"a": 1})),
        key(Bson::Document(doc! {"a": 1.0}))
    );
    // Different values (and types) do not.
    assert_ne!(key(Bson::Int32(3)), key(Bson::Double(3.5)));
    assert_ne!(key(Bson::Int32(3)), key(Bson::String("3".into())));
    assert_ne!(key(Bson::String("".into())), key(Bson::Null));
}

#[test]
fn bad_names_are_invalid_namespaces() {
    let mut store = Store::new();
    assert_eq!(
        store.ensure_collection("a.b", "c").map_err(|e| e.code),
        Err(73)
    );
    assert_eq!(
        store.ensure_collection("db", "").map_err(|e| e.code),
        Err(73)
    );
}
