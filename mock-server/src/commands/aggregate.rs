//! `aggregate` over a collection, answered with a cursor.

use bson::{Bson, Document};

use super::{args, crud, cursor, namespace::cursor_batch_size};
use crate::error::{code, CommandError};
use crate::locks::read;
use crate::pipeline::Pipeline;
use crate::query::Filter;
use crate::server::Server;

/// `{aggregate: <coll>, pipeline: [...], cursor: {batchSize}}`.
pub(super) fn aggregate(
    server: &Server,
    db: &str,
    body: &Document,
) -> Result<Document, CommandError> {
    let coll = match body.get("aggregate") {
        Some(Bson::String(_)) => args::collection(body, "aggregate")?,
        _ => {
            return Err(CommandError::new(
                code::INVALID_NAMESPACE,
                "{aggregate: 1} is not supported by the mock; a collection is required",
            ))
        }
    };
    let stages = args::array(body, "aggregate", "pipeline")?
        .ok_or_else(|| args::missing("aggregate.pipeline"))?;
    if args::boolean(body, "aggregate", "explain")?.unwrap_or(false) {
        return Err(CommandError::bad_value(
            "explain is not supported by the mock",
        ));
    }
    if !body.contains_key("cursor") {
        return Err(CommandError::failed_to_parse(
            "The 'cursor' option is required, except for aggregate with the explain argument",
        ));
    }
    let batch_size = cursor_batch_size(body, "aggregate")?;
    let pipeline = Pipeline::parse(stages)?;
    let input = crud::matching(&read(&server.store), db, coll, &Filter::all());
    let results = pipeline.run(input)?;
    cursor::first_batch(server, format!("{db}.{coll}"), results, batch_size, false)
}
