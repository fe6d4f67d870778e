//! Cursor replies (`{cursor: {firstBatch, id, ns}}`), `getMore` and `killCursors`.

use std::collections::VecDeque;

use bson::{doc, Bson, Document};

use super::args;
use crate::cursor::take_batch;
use crate::error::CommandError;
use crate::limits::FIRST_BATCH_DEFAULT;
use crate::locks::lock;
use crate::server::Server;

/// Builds a cursor reply over `results`: the first batch (`batch_size`, else mongod's
/// default of 101), and a cursor for the rest unless `single_batch` or nothing is left.
pub(super) fn first_batch(
    server: &Server,
    ns: String,
    results: Vec<Document>,
    batch_size: Option<usize>,
    single_batch: bool,
) -> Result<Document, CommandError> {
    let mut remaining = VecDeque::from(results);
    let batch = take_batch(
        &mut remaining,
        Some(batch_size.unwrap_or(FIRST_BATCH_DEFAULT)),
    );
    let id = if single_batch || remaining.is_empty() {
        0
    } else {
        lock(&server.cursors).open(ns.clone(), remaining)?
    };
    Ok(doc! {"cursor": {"firstBatch": batch, "id": id, "ns": ns}})
}

/// `{getMore: <id>, collection: <name>, batchSize}`.
pub(super) fn get_more(
    server: &Server,
    db: &str,
    body: &Document,
) -> Result<Document, CommandError> {
    let id = match body.get("getMore") {
        Some(Bson::Int64(id)) => *id,
        Some(Bson::Int32(id)) => i64::from(*id),
        Some(other) => {
            return Err(CommandError::type_mismatch(format!(
                "BSON field 'getMore.getMore' is the wrong type '{}', expected type 'long'",
                crate::update::type_name(other)
            )))
        }
        None => return Err(args::missing("getMore")),
    };
    let coll = args::collection(body, "collection")?;
    let batch_size = args::count(body, "getMore", "batchSize")?.filter(|n| *n > 0);
    let ns = format!("{db}.{coll}");
    let (batch, open) = lock(&server.cursors).next_batch(id, &ns, batch_size)?;
    Ok(doc! {"cursor": {"nextBatch": batch, "id": if open { id } else { 0 }, "ns": ns}})
}

/// `{killCursors: <coll>, cursors: [<id>, ...]}`.
pub(super) fn kill_cursors(
    server: &Server,
    _db: &str,
    body: &Document,
) -> Result<Document, CommandError> {
    args::collection(body, "killCursors")?;
    let ids = args::array(body, "killCursors", "cursors")?
        .ok_or_else(|| args::missing("killCursors.cursors"))?;
    let mut killed = Vec::new();
    let mut not_found = Vec::new();
    let mut cursors = lock(&server.cursors);
    for id in ids {
        let id = match id {
            Bson::Int64(id) => *id,
            Bson::Int32(id) => i64::from(*id),
            _ => return Err(CommandError::type_mismatch("cursor ids must be longs")),
        };
        if cursors.kill(id) {
            killed.push(id);
        } else {
            not_found.push(id);
        }
    }
    Ok(doc! {
        "cursorsKilled": killed,
        "cursorsNotFound": not_found,
        "cursorsAlive": [],
        "cursorsUnknown": [],
    })
}
