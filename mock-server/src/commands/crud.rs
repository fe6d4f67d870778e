//! The write and read commands behind the drivers' CRUD helpers: `insert`, `find`,
//! `update`, `delete` and `count`.
//!
//! Writes report per-statement failures in `writeErrors: [{index, code, errmsg}]` with
//! `ok: 1`, and stop at the first one when `ordered` (the default).
//!
//! Every command finds its documents through [`matching_positions`]: a filter that pins
//! `_id` to one value (`{_id: v}`, `{_id: {$eq: v}}`, possibly with other conditions) is
//! answered from the collection's `_id` index, anything else by a scan. Reads clone only
//! the documents they return.

use bson::{doc, Bson, Document};

use super::{args, cursor};
use crate::error::CommandError;
use crate::locks::{read, write};
use crate::query::{Filter, Projection, Sort};
use crate::server::Server;
use crate::store::{id_lookup_is_exact, Collection, Store};
use crate::update::Update;

/// `{insert: <coll>, documents: [...], ordered}`.
pub(super) fn insert(server: &Server, db: &str, body: &Document) -> Result<Document, CommandError> {
    let coll = args::collection(body, "insert")?;
    let docs = args::write_batch(body, "insert", "documents")?;
    let ordered = args::boolean(body, "insert", "ordered")?.unwrap_or(true);
    let mut store = write(&server.store);
    let mut n = 0i32;
    let mut errors = Vec::new();
    for (index, doc) in docs.into_iter().enumerate() {
        match store.insert(db, coll, doc.clone()) {
            Ok(_) => n += 1,
            Err(err) => {
                errors.push(write_error(index, &err));
                if ordered {
                    break;
                }
            }
        }
    }
    Ok(write_reply(n, errors))
}

/// `{find: <coll>, filter, sort, projection, skip, limit, batchSize, singleBatch}`.
pub(super) fn find(server: &Server, db: &str, body: &Document) -> Result<Document, CommandError> {
    let coll = args::collection(body, "find")?;
    let filter = parse_filter(args::document(body, "find", "filter")?)?;
    let sort = match args::document(body, "find", "sort")? {
        Some(spec) => Sort::parse(spec)?,
        None => Sort::default(),
    };
    let projection = args::document(body, "find", "projection")?
        .map(Projection::parse)
        .transpose()?;
    let skip = args::count(body, "find", "skip")?.unwrap_or(0);
    let limit = args::count(body, "find", "limit")?.filter(|n| *n > 0);
    let batch_size = args::count(body, "find", "batchSize")?;
    let single_batch = args::boolean(body, "find", "singleBatch")?.unwrap_or(false);
    let results: Vec<Document> = {
        let store = read(&server.store);
        let mut found: Vec<&Document> = match store.collection(db, coll) {
            Some(c) => matching_positions(c, &filter)
                .into_iter()
                .filter_map(|i| c.documents().get(i))
                .collect(),
            None => Vec::new(),
        };
        if !sort.is_empty() {
            found.sort_by(|a, b| sort.compare(a, b));
        }
        let selected = found
            .into_iter()
            .skip(skip)
            .take(limit.unwrap_or(usize::MAX));
        // Only the returned documents are copied (or projected straight from the store).
        match projection {
            Some(p) => selected.map(|d| p.apply(d)).collect::<Result<_, _>>()?,
            None => selected.cloned().collect(),
        }
    };
    // With a limit no larger than the batch, everything fits in the first batch.
    let batch_size = match (batch_size, limit) {
        (Some(b), _) => Some(b),
        (None, Some(l)) => Some(l.min(crate::limits::FIRST_BATCH_DEFAULT)),
        (None, None) => None,
    };
    cursor::first_batch(
        server,
        format!("{db}.{coll}"),
        results,
        batch_size,
        single_batch,
    )
}

/// `{update: <coll>, updates: [{q, u, multi, upsert}], ordered}`.
pub(super) fn update(server: &Server, db: &str, body: &Document) -> Result<Document, CommandError> {
    let coll = args::collection(body, "update")?;
    let statements = args::write_batch(body, "update", "updates")?;
    let ordered = args::boolean(body, "update", "ordered")?.unwrap_or(true);
    let mut store = write(&server.store);
    let (mut n, mut modified) = (0i32, 0i32);
    let mut upserted = Vec::new();
    let mut errors = Vec::new();
    for (index, statement) in statements.into_iter().enumerate() {
        match update_one_statement(&mut store, db, coll, statement) {
            Ok(outcome) => {
                n += outcome.matched;
                modified += outcome.modified;
                if let Some(id) = outcome.upserted_id {
                    n += 1;
                    upserted.push(doc! {"index": index as i32, "_id": id});
                }
            }
            Err(err) => {
                errors.push(write_error(index, &err));
                if ordered {
                    break;
                }
            }
        }
    }
    let mut reply = write_reply(n, errors);
    reply.insert("nModified", modified);
    if !upserted.is_empty() {
        reply.insert("upserted", upserted);
    }
    Ok(reply)
}

/// `{delete: <coll>, deletes: [{q, limit}], ordered}`; `limit` is 0 (all) or 1.
pub(super) fn delete(server: &Server, db: &str, body: &Document) -> Result<Document, CommandError> {
    let coll = args::collection(body, "delete")?;
    let statements = args::write_batch(body, "delete", "deletes")?;
    let ordered = args::boolean(body, "delete", "ordered")?.unwrap_or(true);
    let mut store = write(&server.store);
    let mut n = 0i32;
    let mut errors = Vec::new();
    for (index, statement) in statements.into_iter().enumerate() {
        match delete_statement(&mut store, db, coll, statement) {
            Ok(removed) => n += removed,
            Err(err) => {
                errors.push(write_error(index, &err));
                if ordered {
                    break;
                }
            }
        }
    }
    Ok(write_reply(n, errors))
}

/// `{count: <coll>, query, skip, limit}` (what `estimated_document_count` sends).
pub(super) fn count(server: &Server, db: &str, body: &Document) -> Result<Document, CommandError> {
    let coll = args::collection(body, "count")?;
    let filter = parse_filter(args::document(body, "count", "query")?)?;
    let skip = args::count(body, "count", "skip")?.unwrap_or(0);
    // A negative limit counts as its absolute value, as in mongod.
    let limit = args::integer(body, "count", "limit")?
        .map(i64::unsigned_abs)
        .filter(|n| *n > 0);
    let store = read(&server.store);
    let total = store
        .collection(db, coll)
        .map_or(0, |c| matching_positions(c, &filter).len());
    let mut n = total.saturating_sub(skip) as u64;
    if let Some(limit) = limit {
        n = n.min(limit);
    }
    Ok(doc! {"n": i32::try_from(n).unwrap_or(i32::MAX)})
}

/// The documents of `db.coll` that match `filter`, in insertion order.
pub(super) fn matching(store: &Store, db: &str, coll: &str, filter: &Filter) -> Vec<Document> {
    store
        .collection(db, coll)
        .map(|c| {
            matching_positions(c, filter)
                .into_iter()
                .filter_map(|i| c.documents().get(i).cloned())
                .collect()
        })
        .unwrap_or_default()
}

/// The positions of the documents of `collection` that match `filter`, ascending (so in
/// insertion order).
///
/// When the filter requires `_id` to equal a value the `_id` index answers exactly (see
/// [`id_lookup_is_exact`]), the only candidate is the indexed document, checked against
/// the whole filter; otherwise every document is tested.
pub(super) fn matching_positions(collection: &Collection, filter: &Filter) -> Vec<usize> {
    if let Some(id) = filter.id_equality().filter(|id| id_lookup_is_exact(id)) {
        return collection
            .position_of_id(id)
            .filter(|&i| {
                collection
                    .documents()
                    .get(i)
                    .is_some_and(|d| filter.matches(d))
            })
            .into_iter()
            .collect();
    }
    collection
        .documents()
        .iter()
        .enumerate()
        .filter(|(_, d)| filter.matches(d))
        .map(|(i, _)| i)
        .collect()
}

pub(super) fn parse_filter(filter: Option<&Document>) -> Result<Filter, CommandError> {
    filter.map_or_else(|| Ok(Filter::all()), Filter::parse)
}

struct UpdateOutcome {
    matched: i32,
    modified: i32,
    upserted_id: Option<Bson>,
}

fn update_one_statement(
    store: &mut Store,
    db: &str,
    coll: &str,
    statement: &Document,
) -> Result<UpdateOutcome, CommandError> {
    let filter = parse_filter(args::document(statement, "update.updates", "q")?)?;
    let spec = statement
        .get("u")
        .ok_or_else(|| args::missing("update.updates.u"))?;
    let update = Update::parse(spec)?;
    let multi = args::boolean(statement, "update.updates", "multi")?.unwrap_or(false);
    let upsert = args::boolean(statement, "update.updates", "upsert")?.unwrap_or(false);
    if multi && matches!(update, Update::Replacement(_)) {
        return Err(CommandError::failed_to_parse(
            "multi update is not supported for replacement-style update",
        ));
    }
    let positions: Vec<usize> = store
        .collection(db, coll)
        .map(|c| matching_positions(c, &filter))
        .unwrap_or_default();
    let positions = if multi {
        positions
    } else {
        positions.into_iter().take(1).collect()
    };
    let mut outcome = UpdateOutcome {
        matched: 0,
        modified: 0,
        upserted_id: None,
    };
    for index in positions {
        let Some(current) = store
            .collection(db, coll)
            .and_then(|c| c.documents().get(index))
            .cloned()
        else {
            continue;
        };
        let updated = update.apply(&current, false)?;
        outcome.matched += 1;
        if store.replace_at(db, coll, index, updated)? {
            outcome.modified += 1;
        }
    }
    if outcome.matched == 0 && upsert {
        let doc = update.upsert_document(&filter)?;
        outcome.upserted_id = Some(store.insert(db, coll, doc)?);
    }
    Ok(outcome)
}

fn delete_statement(
    store: &mut Store,
    db: &str,
    coll: &str,
    statement: &Document,
) -> Result<i32, CommandError> {
    let filter = parse_filter(args::document(statement, "delete.deletes", "q")?)?;
    let limit = args::integer(statement, "delete.deletes", "limit")?
        .ok_or_else(|| args::missing("delete.deletes.limit"))?;
    if limit != 0 && limit != 1 {
        return Err(CommandError::failed_to_parse(format!(
            "The limit field in delete objects must be 0 or 1. Got {limit}"
        )));
    }
    let mut positions: Vec<usize> = store
        .collection(db, coll)
        .map(|c| matching_positions(c, &filter))
        .unwrap_or_default();
    if limit == 1 {
        positions.truncate(1);
    }
    Ok(i32::try_from(store.remove_at(db, coll, &positions)).unwrap_or(i32::MAX))
}

fn write_error(index: usize, err: &CommandError) -> Document {
    doc! {"index": i32::try_from(index).unwrap_or(i32::MAX), "code": err.code, "errmsg": err.errmsg.as_str()}
}

fn write_reply(n: i32, errors: Vec<Document>) -> Document {
    let mut reply = doc! {"n": n};
    if !errors.is_empty() {
        reply.insert("writeErrors", errors);
    }
    reply
}
