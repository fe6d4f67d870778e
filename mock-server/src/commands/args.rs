//! Reading command arguments with mongod's type checks and messages.

use bson::{Bson, Document};

use crate::error::{code, CommandError};
use crate::query::compare::as_f64;
use crate::update::type_name;

/// The collection named by the command's first field (`{find: "coll"}`).
pub(super) fn collection<'a>(body: &'a Document, command: &str) -> Result<&'a str, CommandError> {
    match body.get(command) {
        Some(Bson::String(name)) if !name.is_empty() => Ok(name),
        Some(Bson::String(_)) => Err(CommandError::new(
            code::INVALID_NAMESPACE,
            "Invalid namespace specified: empty collection name",
        )),
        Some(other) => Err(CommandError::new(
            code::INVALID_NAMESPACE,
            format!("collection name has invalid type {}", type_name(other)),
        )),
        None => Err(missing(command)),
    }
}

/// An optional document field.
pub(super) fn document<'a>(
    body: &'a Document,
    command: &str,
    key: &str,
) -> Result<Option<&'a Document>, CommandError> {
    match body.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Document(d)) => Ok(Some(d)),
        Some(other) => Err(wrong_type(command, key, other, "object")),
    }
}

/// An optional array field.
pub(super) fn array<'a>(
    body: &'a Document,
    command: &str,
    key: &str,
) -> Result<Option<&'a Vec<Bson>>, CommandError> {
    match body.get(key) {
        None => Ok(None),
        Some(Bson::Array(items)) => Ok(Some(items)),
        Some(other) => Err(wrong_type(command, key, other, "array")),
    }
}

/// An optional whole number.
pub(super) fn integer(
    body: &Document,
    command: &str,
    key: &str,
) -> Result<Option<i64>, CommandError> {
    match body.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(v) => match as_f64(v) {
            Some(n) if n.fract() == 0.0 => Ok(Some(n as i64)),
            _ => Err(wrong_type(command, key, v, "long")),
        },
    }
}

/// An optional non-negative whole number, with mongod's message for a negative one.
pub(super) fn count(
    body: &Document,
    command: &str,
    key: &str,
) -> Result<Option<usize>, CommandError> {
    match integer(body, command, key)? {
        None => Ok(None),
        Some(n) if n >= 0 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
        Some(n) => Err(CommandError::new(
            51024,
            format!("BSON field '{key}' value must be >= 0, actual value '{n}'"),
        )),
    }
}

/// An optional boolean (numbers are accepted as mongod does).
pub(super) fn boolean(
    body: &Document,
    command: &str,
    key: &str,
) -> Result<Option<bool>, CommandError> {
    match body.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Boolean(b)) => Ok(Some(*b)),
        Some(v) => match as_f64(v) {
            Some(n) => Ok(Some(n != 0.0)),
            None => Err(wrong_type(command, key, v, "bool")),
        },
    }
}

/// The documents of a write command's array (`documents`, `updates`, `deletes`), with the
/// batch-size bounds mongod enforces.
pub(super) fn write_batch<'a>(
    body: &'a Document,
    command: &str,
    key: &str,
) -> Result<Vec<&'a Document>, CommandError> {
    let items = array(body, command, key)?.ok_or_else(|| missing(&format!("{command}.{key}")))?;
    let max = crate::limits::WRITE_BATCH_SIZE_MAX as usize;
    if items.is_empty() || items.len() > max {
        return Err(CommandError::new(
            code::INVALID_LENGTH,
            format!(
                "Write batch sizes must be between 1 and {max}. Got {} operations.",
                items.len()
            ),
        ));
    }
    items
        .iter()
        .map(|item| match item {
            Bson::Document(d) => Ok(d),
            other => Err(wrong_type(command, key, other, "object")),
        })
        .collect()
}

/// mongod's IDL error for a missing required field (Location40414).
pub(super) fn missing(field: &str) -> CommandError {
    CommandError::new(
        40414,
        format!("BSON field '{field}' is missing but a required field"),
    )
}

fn wrong_type(command: &str, key: &str, value: &Bson, expected: &str) -> CommandError {
    CommandError::type_mismatch(format!(
        "BSON field '{command}.{key}' is the wrong type '{}', expected type '{expected}'",
        type_name(value)
    ))
}
