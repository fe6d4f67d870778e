//! Namespace commands: `create`, `drop`, `dropDatabase`, `listCollections`,
//! `listDatabases` and `listIndexes`.

use bson::{doc, Document};

use super::{args, crud::parse_filter, cursor};
use crate::error::{code, CommandError};
use crate::locks::{read, write};
use crate::server::Server;

/// `{create: <coll>}`; options such as `capped` are accepted and ignored.
pub(super) fn create(server: &Server, db: &str, body: &Document) -> Result<Document, CommandError> {
    let coll = args::collection(body, "create")?;
    write(&server.store).create_collection(db, coll)?;
    Ok(Document::new())
}

/// `{drop: <coll>}`. As in mongod 7.0, dropping a missing collection succeeds.
pub(super) fn drop(server: &Server, db: &str, body: &Document) -> Result<Document, CommandError> {
    let coll = args::collection(body, "drop")?;
    if write(&server.store).drop_collection(db, coll) {
        Ok(doc! {"nIndexesWas": 1, "ns": format!("{db}.{coll}")})
    } else {
        Ok(Document::new())
    }
}

/// `{dropDatabase: 1}`.
pub(super) fn drop_database(server: &Server, db: &str) -> Result<Document, CommandError> {
    write(&server.store).drop_database(db);
    Ok(Document::new())
}

/// `{listCollections: 1, filter, nameOnly, cursor}`: a cursor over collection entries.
pub(super) fn list_collections(
    server: &Server,
    db: &str,
    body: &Document,
) -> Result<Document, CommandError> {
    let filter = parse_filter(args::document(body, "listCollections", "filter")?)?;
    let name_only = args::boolean(body, "listCollections", "nameOnly")?.unwrap_or(false);
    let batch_size = cursor_batch_size(body, "listCollections")?;
    let entries: Vec<Document> = {
        let store = read(&server.store);
        let names: Vec<String> = store
            .database(db)
            .map(|d| d.collection_names().map(str::to_string).collect())
            .unwrap_or_default();
        names
            .into_iter()
            .map(|name| {
                if name_only {
                    doc! {"name": name, "type": "collection"}
                } else {
                    doc! {
                        "name": name,
                        "type": "collection",
                        "options": {},
                        "info": {"readOnly": false},
                        "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"},
                    }
                }
            })
            .filter(|entry| filter.matches(entry))
            .collect()
    };
    cursor::first_batch(
        server,
        format!("{db}.$cmd.listCollections"),
        entries,
        batch_size,
        false,
    )
}

/// `{listDatabases: 1, filter, nameOnly}` on admin.
pub(super) fn list_databases(server: &Server, body: &Document) -> Result<Document, CommandError> {
    let filter = parse_filter(args::document(body, "listDatabases", "filter")?)?;
    let name_only = args::boolean(body, "listDatabases", "nameOnly")?.unwrap_or(false);
    let store = read(&server.store);
    let mut total: i64 = 0;
    let mut databases = Vec::new();
    for name in store.database_names() {
        let size = store
            .database(name)
            .map_or(0, |d| i64::try_from(d.size_bytes()).unwrap_or(i64::MAX));
        let entry = if name_only {
            doc! {"name": name}
        } else {
            doc! {"name": name, "sizeOnDisk": size, "empty": false}
        };
        if filter.matches(&entry) {
            total = total.saturating_add(size);
            databases.push(entry);
        }
    }
    let mut reply = doc! {"databases": databases};
    if !name_only {
        reply.insert("totalSize", total);
        reply.insert("totalSizeMb", total / (1024 * 1024));
    }
    Ok(reply)
}

/// `{listIndexes: <coll>}`: the mock has only the `_id_` index.
pub(super) fn list_indexes(
    server: &Server,
    db: &str,
    body: &Document,
) -> Result<Document, CommandError> {
    let coll = args::collection(body, "listIndexes")?;
    let batch_size = cursor_batch_size(body, "listIndexes")?;
    if read(&server.store).collection(db, coll).is_none() {
        return Err(CommandError::new(
            code::NAMESPACE_NOT_FOUND,
            format!("ns does not exist: {db}.{coll}"),
        ));
    }
    let indexes = vec![doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"}];
    cursor::first_batch(
        server,
        format!("{db}.$cmd.listIndexes.{coll}"),
        indexes,
        batch_size,
        false,
    )
}

/// `cursor: {batchSize}` of commands that return a cursor.
pub(super) fn cursor_batch_size(
    body: &Document,
    command: &str,
) -> Result<Option<usize>, CommandError> {
    match args::document(body, command, "cursor")? {
        Some(cursor) => args::count(cursor, command, "batchSize"),
        None => Ok(None),
    }
}
