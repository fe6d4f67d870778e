//! Open cursors: the documents a find or aggregate has not returned yet, by cursor id.
//!
//! A cursor holds its remaining results (computed when it was opened, as a snapshot) and is
//! drained by getMore. The table is bounded by [`CURSORS_MAX`].

use std::collections::{HashMap, VecDeque};

use bson::Document;

use crate::error::{code, CommandError};
use crate::limits::{BATCH_BYTES_MAX, CURSORS_MAX};
use crate::store::document_size;

/// One open cursor.
#[derive(Debug)]
pub struct Cursor {
    /// The namespace it reads (`db.coll`), checked by getMore.
    pub ns: String,
    /// The documents not returned yet.
    pub remaining: VecDeque<Document>,
}

/// All open cursors.
#[derive(Debug)]
pub struct CursorTable {
    cursors: HashMap<i64, Cursor>,
    next_id: i64,
}

impl Default for CursorTable {
    fn default() -> Self {
        CursorTable {
            cursors: HashMap::new(),
            next_id: FIRST_CURSOR_ID,
        }
    }
}

impl CursorTable {
    /// Opens a cursor over `remaining` and returns its id (never 0).
    ///
    /// # Errors
    /// `ExceededMemoryLimit` when [`CURSORS_MAX`] cursors are open.
    pub fn open(&mut self, ns: String, remaining: VecDeque<Document>) -> Result<i64, CommandError> {
        if self.cursors.len() >= CURSORS_MAX {
            return Err(CommandError::new(
                code::EXCEEDED_MEMORY_LIMIT,
                format!(
                    "too many open cursors (the mock allows {CURSORS_MAX}); kill or exhaust some"
                ),
            ));
        }
        let id = self.next_id;
        // Ids grow from a large odd start so they look like mongod's and are never 0.
        self.next_id = self.next_id.checked_add(1).unwrap_or(FIRST_CURSOR_ID);
        self.cursors.insert(id, Cursor { ns, remaining });
        Ok(id)
    }

    /// Takes the next batch of cursor `id` for a getMore on `ns`. Returns the batch and
    /// whether the cursor is still open (it is closed once drained).
    ///
    /// # Errors
    /// `CursorNotFound` (43) for an unknown id; `Unauthorized` (13) for a namespace
    /// mismatch, as mongod reports it.
    pub fn next_batch(
        &mut self,
        id: i64,
        ns: &str,
        batch_size: Option<usize>,
    ) -> Result<(Vec<Document>, bool), CommandError> {
        let Some(cursor) = self.cursors.get_mut(&id) else {
            return Err(CommandError::new(
                code::CURSOR_NOT_FOUND,
                format!("cursor id {id} not found"),
            ));
        };
        if cursor.ns != ns {
            return Err(CommandError::new(
                13,
                format!("Requested getMore on namespace '{ns}', but cursor belongs to a different namespace {}", cursor.ns),
            ));
        }
        let batch = take_batch(&mut cursor.remaining, batch_size);
        let open = !cursor.remaining.is_empty();
        if !open {
            self.cursors.remove(&id);
        }
        Ok((batch, open))
    }

    /// Kills cursor `id`. Returns whether it existed.
    pub fn kill(&mut self, id: i64) -> bool {
        self.cursors.remove(&id).is_some()
    }

    /// The number of open cursors.
    pub fn len(&self) -> usize {
        self.cursors.len()
    }

    /// Whether no cursor is open.
    pub fn is_empty(&self) -> bool {
        self.cursors.is_empty()
    }

    /// Closes every cursor (a restart).
    pub fn clear(&mut self) {
        self.cursors.clear();
    }
}

/// Takes up to `batch_size` documents (all if `None`), stopping early at
/// [`BATCH_BYTES_MAX`] (but always taking at least one document).
pub fn take_batch(remaining: &mut VecDeque<Document>, batch_size: Option<usize>) -> Vec<Document> {
    let want = batch_size.unwrap_or(usize::MAX);
    let mut batch = Vec::with_capacity(want.min(remaining.len()));
    let mut bytes = 0usize;
    while batch.len() < want {
        let Some(next) = remaining.front() else {
            break;
        };
        // A size is only ever compared for a document after the first, so a batch that
        // ends after its first document (`limit: 1`, the last document) never encodes it
        // just to measure it.
        let measured = !batch.is_empty() || (want > 1 && remaining.len() > 1);
        if measured {
            let size = document_size(next);
            if !batch.is_empty() && bytes + size > BATCH_BYTES_MAX {
                break;
            }
            bytes += size;
        }
        if let Some(doc) = remaining.pop_front() {
            batch.push(doc);
        }
    }
    batch
}

const FIRST_CURSOR_ID: i64 = 0x1000_0000_0000_0001;

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn batches_drain_and_close() {
        let mut table = CursorTable::default();
        let docs: VecDeque<Document> = (0..5).map(|i| doc! {"i": i}).collect();
        let id = table.open("db.c".into(), docs).expect("room");
        assert_ne!(id, 0);
        let (batch, open) = table.next_batch(id, "db.c", Some(3)).expect("found");
        assert_eq!((batch.len(), open), (3, true));
        let (batch, open) = table.next_batch(id, "db.c", None).expect("found");
        assert_eq!((batch.len(), open), (2, false));
        assert_eq!(
            table.next_batch(id, "db.c", None).map_err(|e| e.code),
            Err(43)
        );
    }

    #[test]
    fn namespace_must_match() {
        let mut table = CursorTable::default();
        let id = table
            .open("db.c".into(), VecDeque::from([doc! {}]))
            .expect("room");
        assert_eq!(
            table.next_batch(id, "db.other", None).map_err(|e| e.code),
            Err(13)
        );
        assert!(table.kill(id));
        assert!(!table.kill(id));
    }
}
