//! The in-memory data: databases → collections → documents in insertion order, with a
//! unique `_id` index per collection and server-wide bounds on size.
//!
//! The `_id` index maps each document's normalised `_id` (its `IdKey`) to its position in
//! the collection, so a point lookup by `_id` ([`Collection::position_of_id`]) costs one
//! hash probe instead of a scan. Every change to a collection goes through [`Store`],
//! which keeps the index in step: inserts add an entry, replacements re-key it if the
//! `_id`'s stored form changed, removals drop entries and renumber the documents that
//! moved, and dropping a collection or database drops its index with it.

use std::collections::{BTreeMap, HashMap};

use bson::{oid::ObjectId, Bson, Document};

use crate::error::{code, CommandError};
use crate::limits::{DOCUMENTS_MAX, NAMESPACES_MAX};
use crate::query::compare;

/// All databases of the server.
#[derive(Debug, Default)]
pub struct Store {
    databases: BTreeMap<String, Database>,
    /// Documents stored across all collections (bounded by [`DOCUMENTS_MAX`]).
    documents_total: usize,
    /// Databases plus collections (bounded by [`NAMESPACES_MAX`]).
    namespaces_total: usize,
}

/// One database: its collections by name.
#[derive(Debug, Default)]
pub struct Database {
    collections: BTreeMap<String, Collection>,
}

/// One collection: documents in insertion order and the `_id` index.
///
/// Invariant: `keys[i]` is the key of `docs[i]`'s `_id`, and `ids` maps exactly the keys
/// in `keys` to their positions.
#[derive(Debug, Default)]
pub struct Collection {
    docs: Vec<Document>,
    /// The index key of each document's `_id`, parallel to `docs`.
    keys: Vec<IdKey>,
    /// The unique `_id` index: key → position in `docs`.
    ids: HashMap<IdKey, usize>,
}

/// A normalised `_id` for the unique index: `1`, `1i64` and `1.0` are the same key, as in
/// mongod's KeyString.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct IdKey(Vec<u8>);

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// The collection `db.coll`, if it exists.
    pub fn collection(&self, db: &str, coll: &str) -> Option<&Collection> {
        self.databases.get(db)?.collections.get(coll)
    }

    /// The database `db`, if it exists.
    pub fn database(&self, db: &str) -> Option<&Database> {
        self.databases.get(db)
    }

    /// Database names in order.
    pub fn database_names(&self) -> impl Iterator<Item = &str> {
        self.databases.keys().map(String::as_str)
    }

    /// Documents stored across all collections.
    pub fn documents_total(&self) -> usize {
        self.documents_total
    }

    /// Creates `db.coll` if missing (as an insert does). Returns whether it was created.
    ///
    /// # Errors
    /// `InvalidNamespace` for bad names, `ExceededMemoryLimit` past [`NAMESPACES_MAX`].
    pub fn ensure_collection(&mut self, db: &str, coll: &str) -> Result<bool, CommandError> {
        validate_names(db, coll)?;
        let new_db = !self.databases.contains_key(db);
        let new_coll = new_db
            || !self
                .databases
                .get(db)
                .is_some_and(|d| d.collections.contains_key(coll));
        if !new_coll {
            return Ok(false);
        }
        let added = usize::from(new_db) + 1;
        if self.namespaces_total + added > NAMESPACES_MAX {
            return Err(CommandError::new(
                code::EXCEEDED_MEMORY_LIMIT,
                format!("the mock holds at most {NAMESPACES_MAX} databases and collections"),
            ));
        }
        self.namespaces_total += added;
        self.databases
            .entry(db.to_string())
            .or_default()
            .collections
            .entry(coll.to_string())
            .or_default();
        Ok(true)
    }

    /// Creates `db.coll` explicitly (the `create` command).
    ///
    /// # Errors
    /// `NamespaceExists` (48) if it exists, and as [`Store::ensure_collection`].
    pub fn create_collection(&mut self, db: &str, coll: &str) -> Result<(), CommandError> {
        if self.ensure_collection(db, coll)? {
            Ok(())
        } else {
            Err(CommandError::new(
                code::NAMESPACE_EXISTS,
                format!("Collection {db}.{coll} already exists."),
            ))
        }
    }

    /// Drops `db.coll`. Returns whether it existed. An emptied database disappears, as in
    /// mongod.
    pub fn drop_collection(&mut self, db: &str, coll: &str) -> bool {
        let Some(database) = self.databases.get_mut(db) else {
            return false;
        };
        let Some(dropped) = database.collections.remove(coll) else {
            return false;
        };
        self.documents_total -= dropped.docs.len();
        self.namespaces_total -= 1;
        if database.collections.is_empty() {
            self.databases.remove(db);
            self.namespaces_total -= 1;
        }
        true
    }

    /// Drops database `db`. Returns whether it existed.
    pub fn drop_database(&mut self, db: &str) -> bool {
        let Some(dropped) = self.databases.remove(db) else {
            return false;
        };
        self.namespaces_total -= 1 + dropped.collections.len();
        self.documents_total -= dropped
            .collections
            .values()
            .map(|c| c.docs.len())
            .sum::<usize>();
        true
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        *self = Store::default();
    }

    /// Inserts one document into `db.coll` (created if missing), adding an `_id` first if it
    /// has none. Returns the stored `_id`.
    ///
    /// # Errors
    /// `DuplicateKey` (11000) with mongod's E11000 message, `BadValue` for an array `_id`,
    /// `ExceededMemoryLimit` past [`DOCUMENTS_MAX`].
    pub fn insert(&mut self, db: &str, coll: &str, doc: Document) -> Result<Bson, CommandError> {
        let doc = with_id_first(doc);
        let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
        if matches!(id, Bson::Array(_)) {
            return Err(CommandError::bad_value("can't use an array for _id"));
        }
        if self.documents_total >= DOCUMENTS_MAX {
            return Err(CommandError::new(
                code::EXCEEDED_MEMORY_LIMIT,
                format!("the mock stores at most {DOCUMENTS_MAX} documents"),
            ));
        }
        self.ensure_collection(db, coll)?;
        let collection = self.collection_mut(db, coll)?;
        let key = IdKey::of(&id);
        if collection.ids.contains_key(&key) {
            return Err(duplicate_key(db, coll, &id));
        }
        collection.ids.insert(key.clone(), collection.docs.len());
        collection.keys.push(key);
        collection.docs.push(doc);
        self.documents_total += 1;
        Ok(id)
    }

    /// Replaces the document at `index` of `db.coll` with `doc` (an equal `_id`, checked
    /// by the caller). Returns whether the document changed.
    ///
    /// An update may store an equal `_id` in another form (`$set: {_id: 1.0}` over
    /// `_id: 1`); the index entry is re-keyed when the normalised key differs.
    ///
    /// # Errors
    /// `NamespaceNotFound` if the collection is missing or `index` is out of range;
    /// `DuplicateKey` (11000) if the new `_id`'s key belongs to another document (the
    /// document is then left as it was).
    pub fn replace_at(
        &mut self,
        db: &str,
        coll: &str,
        index: usize,
        doc: Document,
    ) -> Result<bool, CommandError> {
        let collection = self.collection_mut(db, coll)?;
        let Some(slot) = collection.docs.get_mut(index) else {
            return Err(CommandError::new(
                code::NAMESPACE_NOT_FOUND,
                "document vanished during update",
            ));
        };
        // Like mongod, a no-op is detected by exact (binary) equality.
        let changed = *slot != doc;
        if changed {
            let id = doc.get("_id").unwrap_or(&Bson::Null);
            let key = IdKey::of(id);
            if let Some(old) = collection.keys.get_mut(index).filter(|old| **old != key) {
                if collection.ids.get(&key).is_some_and(|&at| at != index) {
                    return Err(duplicate_key(db, coll, id));
                }
                collection.ids.remove(old);
                collection.ids.insert(key.clone(), index);
                *old = key;
            }
        }
        *slot = doc;
        Ok(changed)
    }

    /// Removes the documents at the given positions (sorted ascending) of `db.coll`.
    pub fn remove_at(&mut self, db: &str, coll: &str, positions: &[usize]) -> usize {
        let Ok(collection) = self.collection_mut(db, coll) else {
            return 0;
        };
        let mut removed = 0;
        let mut first_moved = None;
        for &index in positions.iter().rev() {
            if index < collection.docs.len() {
                collection.docs.remove(index);
                let key = collection.keys.remove(index);
                collection.ids.remove(&key);
                first_moved = Some(index);
                removed += 1;
            }
        }
        // Every document after the first removed one moved up: renumber its entry.
        if let Some(first) = first_moved {
            for (position, key) in collection.keys.iter().enumerate().skip(first) {
                if let Some(slot) = collection.ids.get_mut(key) {
                    *slot = position;
                }
            }
        }
        self.documents_total -= removed;
        removed
    }

    fn collection_mut(&mut self, db: &str, coll: &str) -> Result<&mut Collection, CommandError> {
        self.databases
            .get_mut(db)
            .and_then(|d| d.collections.get_mut(coll))
            .ok_or_else(|| {
                CommandError::new(
                    code::NAMESPACE_NOT_FOUND,
                    format!("ns not found: {db}.{coll}"),
                )
            })
    }
}

impl Database {
    /// Collection names in order.
    pub fn collection_names(&self) -> impl Iterator<Item = &str> {
        self.collections.keys().map(String::as_str)
    }

    /// An approximate size in bytes (the sum of the documents' BSON sizes).
    pub fn size_bytes(&self) -> u64 {
        self.collections.values().map(Collection::size_bytes).sum()
    }
}

impl Collection {
    /// The documents in insertion order.
    pub fn documents(&self) -> &[Document] {
        &self.docs
    }

    /// The number of documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether the collection has no documents.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The sum of the documents' BSON sizes.
    pub fn size_bytes(&self) -> u64 {
        self.docs.iter().map(|d| document_size(d) as u64).sum()
    }

    /// The position of the document whose `_id` has the same index key as `id` (`1`,
    /// `1i64` and `1.0` share one key), from the `_id` index.
    ///
    /// For an `id` where [`id_lookup_is_exact`] holds, this is the only document whose
    /// `_id` equals `id` in the query language's sense; for other values a match found by
    /// a scan may be missed, so callers scan instead.
    pub fn position_of_id(&self, id: &Bson) -> Option<usize> {
        self.ids.get(&IdKey::of(id)).copied()
    }

    /// The document whose `_id` has the same index key as `id` (see
    /// [`Collection::position_of_id`]).
    pub fn document_by_id(&self, id: &Bson) -> Option<&Document> {
        self.docs.get(self.position_of_id(id)?)
    }
}

/// Whether the `_id` index answers equality with `id` exactly: every stored `_id` that
/// the query language finds equal to `id` has `id`'s index key, so
/// [`Collection::position_of_id`] finds all matches (at most one) and no scan is needed.
///
/// True for strings, symbols, ObjectIds, booleans, dates, 32-bit integers, and 64-bit
/// integers and doubles short of 9e15 in magnitude (past it an equal integer and double
/// can get different keys). False for `null` (which also matches a missing `_id`),
/// documents, arrays (which match by element) and the rarer types: those are scanned.
pub fn id_lookup_is_exact(id: &Bson) -> bool {
    match id {
        Bson::String(_)
        | Bson::Symbol(_)
        | Bson::ObjectId(_)
        | Bson::Boolean(_)
        | Bson::DateTime(_)
        | Bson::Int32(_) => true,
        Bson::Int64(i) => i.unsigned_abs() < EXACT_NUMBER_BOUND as u64,
        Bson::Double(d) => d.is_nan() || d.abs() < EXACT_NUMBER_BOUND || d.is_infinite(),
        _ => false,
    }
}

/// Below this magnitude, a whole double and an integer that compare equal both normalise
/// to the same `Int64` key (every integer here is exact as an `f64`).
const EXACT_NUMBER_BOUND: f64 = 9.0e15;

impl IdKey {
    /// The key of `id`. Values that compare equal get equal keys (numbers of every width
    /// by value, symbols as strings, documents and arrays deeply), with the bound noted at
    /// [`id_lookup_is_exact`] for very large numbers.
    ///
    /// The common scalar types are encoded directly (a tag byte, then the value's bytes),
    /// without building a document; everything else is the BSON of the normalised value
    /// behind its own tag, so no two encodings collide.
    fn of(id: &Bson) -> IdKey {
        let mut bytes = Vec::with_capacity(16);
        match normalise_number(id) {
            Some(Bson::Int64(i)) => {
                bytes.push(KEY_INT);
                bytes.extend_from_slice(&i.to_le_bytes());
                return IdKey(bytes);
            }
            Some(Bson::Double(d)) => {
                // Every NaN is equal to every other: one key for all of them.
                let d = if d.is_nan() { f64::NAN } else { d };
                bytes.push(KEY_DOUBLE);
                bytes.extend_from_slice(&d.to_bits().to_le_bytes());
                return IdKey(bytes);
            }
            _ => {}
        }
        match id {
            Bson::String(s) | Bson::Symbol(s) => {
                bytes.push(KEY_STRING);
                bytes.extend_from_slice(s.as_bytes());
            }
            Bson::ObjectId(oid) => {
                bytes.push(KEY_OBJECT_ID);
                bytes.extend_from_slice(&oid.bytes());
            }
            other => {
                bytes.push(KEY_OTHER);
                let wrapped = bson::doc! {"": normalise(other)};
                // Writing to a Vec cannot fail for a document built in memory; an
                // impossible error would only shorten the key, never lose a document.
                let _ = wrapped.to_writer(&mut bytes);
            }
        }
        IdKey(bytes)
    }
}

/// Key tags: the first byte of every [`IdKey`].
const KEY_INT: u8 = 1;
const KEY_DOUBLE: u8 = 2;
const KEY_STRING: u8 = 3;
const KEY_OBJECT_ID: u8 = 4;
const KEY_OTHER: u8 = 5;

/// The encoded size of a document in bytes.
pub fn document_size(doc: &Document) -> usize {
    let mut bytes = Vec::new();
    match doc.to_writer(&mut bytes) {
        Ok(()) => bytes.len(),
        Err(_) => 0,
    }
}

/// Moves `_id` to the front, generating an ObjectId if missing (as mongod does on insert).
fn with_id_first(mut doc: Document) -> Document {
    let id = doc
        .remove("_id")
        .unwrap_or_else(|| Bson::ObjectId(ObjectId::new()));
    let mut out = bson::doc! {"_id": id};
    out.extend(doc);
    out
}

/// The canonical form of a number: whole values short of 9e15 as `Int64`, other
/// integers as `Int64`, other doubles as themselves. `None` for non-numbers.
fn normalise_number(v: &Bson) -> Option<Bson> {
    match v {
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => Some(match compare::as_f64(v) {
            Some(f) if f.fract() == 0.0 && f.abs() < EXACT_NUMBER_BOUND => Bson::Int64(f as i64),
            _ => compare::as_i64(v).map_or_else(|| v.clone(), Bson::Int64),
        }),
        _ => None,
    }
}

/// Numbers that compare equal get the same key; documents and arrays are normalised deeply.
fn normalise(v: &Bson) -> Bson {
    match v {
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => {
            normalise_number(v).unwrap_or_else(|| v.clone())
        }
        Bson::Document(d) => {
            Bson::Document(d.iter().map(|(k, v)| (k.clone(), normalise(v))).collect())
        }
        Bson::Array(items) => Bson::Array(items.iter().map(normalise).collect()),
        Bson::Symbol(s) => Bson::String(s.clone()),
        other => other.clone(),
    }
}

fn validate_names(db: &str, coll: &str) -> Result<(), CommandError> {
    let bad_db = db.is_empty()
        || db
            .chars()
            .any(|c| matches!(c, '/' | '\\' | '.' | ' ' | '"' | '$' | '\0'));
    if bad_db {
        return Err(CommandError::new(
            code::INVALID_NAMESPACE,
            format!("Invalid database name: '{db}'"),
        ));
    }
    if coll.is_empty() || coll.contains('\0') || coll.contains('$') {
        return Err(CommandError::new(
            code::INVALID_NAMESPACE,
            format!("Invalid namespace specified '{db}.{coll}'"),
        ));
    }
    Ok(())
}

fn duplicate_key(db: &str, coll: &str, id: &Bson) -> CommandError {
    CommandError::new(
        code::DUPLICATE_KEY,
        format!("E11000 duplicate key error collection: {db}.{coll} index: _id_ dup key: {{ _id: {id} }}"),
    )
}

#[cfg(test)]
mod tests {
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
}
