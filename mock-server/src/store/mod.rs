//! The in-memory data: databases → collections → documents in insertion order, with a
//! unique `_id` index per collection and server-wide bounds on size.
//!
//! The `_id` index maps each document's normalised `_id` (its `IdKey`) to its position in
//! the collection, so a point lookup by `_id` ([`Collection::position_of_id`]) costs one
//! hash probe instead of a scan. Every change to a collection goes through [`Store`],
//! which keeps the index in step: inserts add an entry, replacements re-key it if the
//! `_id`'s stored form changed, removals drop entries and renumber the documents that
//! moved, and dropping a collection or database drops its index with it.

mod collection;
mod id_key;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use bson::{oid::ObjectId, Bson, Document};

pub use collection::{Collection, Database};
pub use id_key::id_lookup_is_exact;

use crate::error::{code, CommandError};
use crate::limits::{DOCUMENTS_MAX, NAMESPACES_MAX};
use id_key::IdKey;

/// All databases of the server.
#[derive(Debug, Default)]
pub struct Store {
    databases: BTreeMap<String, Database>,
    /// Documents stored across all collections (bounded by [`DOCUMENTS_MAX`]).
    documents_total: usize,
    /// Databases plus collections (bounded by [`NAMESPACES_MAX`]).
    namespaces_total: usize,
}

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

/// Checks `db` and `coll` as mongod does, failing with `InvalidNamespace`.
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

/// The E11000 error for a second document with `_id` `id` in `db.coll`.
fn duplicate_key(db: &str, coll: &str, id: &Bson) -> CommandError {
    CommandError::new(
        code::DUPLICATE_KEY,
        format!("E11000 duplicate key error collection: {db}.{coll} index: _id_ dup key: {{ _id: {id} }}"),
    )
}
