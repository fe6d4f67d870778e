//! A database's collections, and one collection's documents with its `_id` index.

use std::collections::{BTreeMap, HashMap};

use bson::{Bson, Document};

use super::document_size;
use super::id_key::IdKey;

/// One database: its collections by name.
#[derive(Debug, Default)]
pub struct Database {
    pub(super) collections: BTreeMap<String, Collection>,
}

/// One collection: documents in insertion order and the `_id` index.
///
/// Invariant: `keys[i]` is the key of `docs[i]`'s `_id`, and `ids` maps exactly the keys
/// in `keys` to their positions.
#[derive(Debug, Default)]
pub struct Collection {
    pub(super) docs: Vec<Document>,
    /// The index key of each document's `_id`, parallel to `docs`.
    pub(super) keys: Vec<IdKey>,
    /// The unique `_id` index: key → position in `docs`.
    pub(super) ids: HashMap<IdKey, usize>,
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
    /// For an `id` where [`id_lookup_is_exact`](super::id_lookup_is_exact) holds, this is the only document whose
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
