//! The in-memory data: databases → collections → documents in insertion order, with a
//! unique `_id` index per collection and server-wide bounds on size.

use std::collections::{BTreeMap, HashSet};

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
#[derive(Debug, Default)]
pub struct Collection {
    docs: Vec<Document>,
    ids: HashSet<IdKey>,
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
        if collection.ids.contains(&key) {
            return Err(duplicate_key(db, coll, &id));
        }
        collection.ids.insert(key);
        collection.docs.push(doc);
        self.documents_total += 1;
        Ok(id)
    }

    /// Replaces the document at `index` of `db.coll` with `doc` (same `_id`, checked by the
    /// caller). Returns whether the document changed.
    ///
    /// # Errors
    /// `NamespaceNotFound` if the collection is missing or `index` is out of range.
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
        *slot = doc;
        Ok(changed)
    }

    /// Removes the documents at the given positions (sorted ascending) of `db.coll`.
    pub fn remove_at(&mut self, db: &str, coll: &str, positions: &[usize]) -> usize {
        let Ok(collection) = self.collection_mut(db, coll) else {
            return 0;
        };
        let mut removed = 0;
        for &index in positions.iter().rev() {
            if index < collection.docs.len() {
                let doc = collection.docs.remove(index);
                collection
                    .ids
                    .remove(&IdKey::of(doc.get("_id").unwrap_or(&Bson::Null)));
                removed += 1;
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
}

impl IdKey {
    fn of(id: &Bson) -> IdKey {
        let mut bytes = Vec::new();
        let wrapped = bson::doc! {"": normalise(id)};
        // Writing to a Vec cannot fail for a document built in memory; an impossible error
        // would only make the key empty, never lose a document.
        let _ = wrapped.to_writer(&mut bytes);
        IdKey(bytes)
    }
}

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

/// Numbers that compare equal get the same key; documents and arrays are normalised deeply.
fn normalise(v: &Bson) -> Bson {
    match v {
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => match compare::as_f64(v) {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Bson::Int64(f as i64),
            _ => compare::as_i64(v).map_or_else(|| v.clone(), Bson::Int64),
        },
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
