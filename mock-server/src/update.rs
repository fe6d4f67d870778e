//! Update specifications: operator updates (`$set $unset $inc $setOnInsert $push`) and
//! replacement documents, with mongod's checks (no `_id` change, no mixed forms, numeric
//! `$inc`).

use bson::{oid::ObjectId, Bson, Document};

use crate::error::{code, CommandError};
use crate::query::{compare, path, Filter};

/// A parsed update.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// `{$op: {path: value}, ...}`.
    Operators(Vec<(Operator, String, Bson)>),
    /// A whole replacement document.
    Replacement(Document),
}

/// An update operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// `$set`.
    Set,
    /// `$unset`.
    Unset,
    /// `$inc`.
    Inc,
    /// `$setOnInsert` (applies only when an upsert inserts).
    SetOnInsert,
    /// `$push` (with a plain value; no `$each`).
    Push,
}

impl Update {
    /// Parses the `u` field of an update statement.
    ///
    /// # Errors
    /// `FailedToParse` (9) for an unknown modifier or a mixed document, `BadValue` for a
    /// pipeline update (not supported), `DollarPrefixedFieldName` (52) in replacements.
    pub fn parse(spec: &Bson) -> Result<Update, CommandError> {
        let spec = match spec {
            Bson::Document(d) => d,
            Bson::Array(_) => {
                return Err(CommandError::bad_value(
                    "pipeline-style updates are not supported by the mock",
                ))
            }
            _ => {
                return Err(CommandError::failed_to_parse(
                    "Update argument must be either an object or an array",
                ))
            }
        };
        let operator_form = spec.keys().next().is_some_and(|k| k.starts_with('$'));
        if !operator_form {
            if let Some(k) = spec.keys().find(|k| k.starts_with('$')) {
                return Err(CommandError::new(
                    52,
                    format!("The dollar ($) prefixed field '{k}' in '{k}' is not allowed in the context of an update's replacement document."),
                ));
            }
            return Ok(Update::Replacement(spec.clone()));
        }
        let mut ops = Vec::new();
        for (name, fields) in spec {
            let op = match name.as_str() {
                "$set" => Operator::Set,
                "$unset" => Operator::Unset,
                "$inc" => Operator::Inc,
                "$setOnInsert" => Operator::SetOnInsert,
                "$push" => Operator::Push,
                other if other.starts_with('$') => {
                    return Err(CommandError::failed_to_parse(format!("Unknown modifier: {other}. Expected a valid update modifier or pipeline-style update specified as an array")))
                }
                other => return Err(CommandError::failed_to_parse(format!("Unknown modifier: {other}"))),
            };
            let Bson::Document(fields) = fields else {
                return Err(CommandError::failed_to_parse(format!("Modifiers operate on fields but we found type {} instead. For example: {{$mod: {{<field>: ...}}}} not {{{name}: ...}}", type_name(fields))));
            };
            for (field, value) in fields {
                if op == Operator::Inc && compare::as_f64(value).is_none() {
                    return Err(CommandError::type_mismatch(format!(
                        "Cannot increment with non-numeric argument: {{{field}: {value}}}"
                    )));
                }
                ops.push((op, field.clone(), value.clone()));
            }
        }
        check_conflicts(&ops)?;
        Ok(Update::Operators(ops))
    }

    /// Applies the update to `doc` and returns the new document. `inserting` turns on
    /// `$setOnInsert`.
    ///
    /// # Errors
    /// `ImmutableField` (66) if `_id` would change; `TypeMismatch` for `$inc` on a
    /// non-number or `$push` on a non-array; `PathNotViable` for impossible paths.
    pub fn apply(&self, doc: &Document, inserting: bool) -> Result<Document, CommandError> {
        let updated = match self {
            Update::Replacement(replacement) => {
                let mut out = Document::new();
                match (doc.get("_id"), replacement.get("_id")) {
                    (Some(id), _) => {
                        out.insert("_id", id.clone());
                    }
                    (None, Some(id)) => {
                        out.insert("_id", id.clone());
                    }
                    (None, None) => {}
                }
                for (k, v) in replacement {
                    if k != "_id" {
                        out.insert(k.clone(), v.clone());
                    }
                }
                if let (Some(old), Some(new)) = (doc.get("_id"), replacement.get("_id")) {
                    if !compare::equal(old, new) {
                        return Err(immutable_id());
                    }
                }
                out
            }
            Update::Operators(ops) => {
                let mut out = doc.clone();
                for (op, field, value) in ops {
                    apply_operator(&mut out, *op, field, value, inserting)?;
                }
                let id_changed = match (doc.get("_id"), out.get("_id")) {
                    (Some(old), Some(new)) => !compare::equal(old, new),
                    (Some(_), None) => true,
                    _ => false,
                };
                if id_changed {
                    return Err(immutable_id());
                }
                out
            }
        };
        Ok(updated)
    }

    /// The document an upsert inserts: the filter's equalities, then this update, then a
    /// generated `_id` (first) if none was given.
    ///
    /// # Errors
    /// As [`Update::apply`].
    pub fn upsert_document(&self, filter: &Filter) -> Result<Document, CommandError> {
        let mut seed = Document::new();
        if let Update::Operators(_) = self {
            for (field, value) in filter.equalities() {
                path::set(&mut seed, field, value.clone())?;
            }
        } else if let Some((_, id)) = filter.equalities().into_iter().find(|(f, _)| *f == "_id") {
            seed.insert("_id", id.clone());
        }
        let mut doc = self.apply(&seed, true)?;
        if !doc.contains_key("_id") {
            let mut with_id = bson::doc! {"_id": ObjectId::new()};
            with_id.extend(doc);
            doc = with_id;
        } else if doc.keys().next().map(String::as_str) != Some("_id") {
            let id = doc.remove("_id").unwrap_or(Bson::Null);
            let mut with_id = bson::doc! {"_id": id};
            with_id.extend(doc);
            doc = with_id;
        }
        Ok(doc)
    }
}

fn apply_operator(
    doc: &mut Document,
    op: Operator,
    field: &str,
    value: &Bson,
    inserting: bool,
) -> Result<(), CommandError> {
    match op {
        Operator::Set => path::set(doc, field, value.clone()),
        Operator::SetOnInsert if inserting => path::set(doc, field, value.clone()),
        Operator::SetOnInsert => Ok(()),
        Operator::Unset => {
            path::unset(doc, field);
            Ok(())
        }
        Operator::Inc => {
            let current = path::get(doc, field).cloned();
            let sum = match current {
                None => value.clone(),
                Some(existing) => add(&existing, value).ok_or_else(|| {
                    CommandError::type_mismatch(format!(
                        "Cannot apply $inc to a value of non-numeric type. {{_id: {}}} has the field '{field}' of non-numeric type {}",
                        doc.get("_id").cloned().unwrap_or(Bson::Null),
                        type_name(&existing)
                    ))
                })?,
            };
            path::set(doc, field, sum)
        }
        Operator::Push => match path::get(doc, field).cloned() {
            None => path::set(doc, field, Bson::Array(vec![value.clone()])),
            Some(Bson::Array(mut items)) => {
                items.push(value.clone());
                path::set(doc, field, Bson::Array(items))
            }
            Some(other) => Err(CommandError::new(
                2,
                format!("The field '{field}' must be an array but is of type {} in document {{_id: {}}}", type_name(&other), doc.get("_id").cloned().unwrap_or(Bson::Null)),
            )),
        },
    }
}

/// `$inc` arithmetic with mongod's widening: int32 overflows into int64, and any double
/// makes the result a double.
fn add(a: &Bson, b: &Bson) -> Option<Bson> {
    match (a, b) {
        (Bson::Int32(x), Bson::Int32(y)) => Some(match x.checked_add(*y) {
            Some(s) => Bson::Int32(s),
            None => Bson::Int64(i64::from(*x) + i64::from(*y)),
        }),
        (Bson::Int32(_) | Bson::Int64(_), Bson::Int32(_) | Bson::Int64(_)) => {
            let (x, y) = (compare::as_i64(a)?, compare::as_i64(b)?);
            Some(
                x.checked_add(y)
                    .map_or(Bson::Double(x as f64 + y as f64), Bson::Int64),
            )
        }
        _ => Some(Bson::Double(compare::as_f64(a)? + compare::as_f64(b)?)),
    }
}

/// Two operators may not touch the same path or a path and its prefix (`a` and `a.b`).
fn check_conflicts(ops: &[(Operator, String, Bson)]) -> Result<(), CommandError> {
    for (i, (_, a, _)) in ops.iter().enumerate() {
        for (_, b, _) in &ops[i + 1..] {
            let conflict =
                a == b || b.starts_with(&format!("{a}.")) || a.starts_with(&format!("{b}."));
            if conflict {
                return Err(CommandError::new(
                    40,
                    format!("Updating the path '{b}' would create a conflict at '{a}'"),
                ));
            }
        }
    }
    Ok(())
}

fn immutable_id() -> CommandError {
    CommandError::new(
        code::IMMUTABLE_FIELD,
        "Performing an update on the path '_id' would modify the immutable field '_id'",
    )
}

/// mongod's name of a value's type, for messages.
pub(crate) fn type_name(v: &Bson) -> &'static str {
    match v {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Binary(_) => "binData",
        Bson::Undefined => "undefined",
        Bson::ObjectId(_) => "objectId",
        Bson::Boolean(_) => "bool",
        Bson::DateTime(_) => "date",
        Bson::Null => "null",
        Bson::RegularExpression(_) => "regex",
        Bson::DbPointer(_) => "dbPointer",
        Bson::JavaScriptCode(_) => "javascript",
        Bson::Symbol(_) => "symbol",
        Bson::JavaScriptCodeWithScope(_) => "javascriptWithScope",
        Bson::Int32(_) => "int",
        Bson::Timestamp(_) => "timestamp",
        Bson::Int64(_) => "long",
        Bson::Decimal128(_) => "decimal",
        Bson::MinKey => "minKey",
        Bson::MaxKey => "maxKey",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn update(spec: Document, d: Document) -> Result<Document, i32> {
        Update::parse(&Bson::Document(spec))
            .and_then(|u| u.apply(&d, false))
            .map_err(|e| e.code)
    }

    #[test]
    fn operators_apply() {
        let d = doc! {"_id": 1, "a": 1, "b": {"c": 2}, "n": 2_147_483_647};
        assert_eq!(
            update(
                doc! {"$set": {"b.d": 3}, "$inc": {"a": 2, "n": 1, "z": 1.5}, "$unset": {"b.c": ""}},
                d
            ),
            Ok(doc! {"_id": 1, "a": 3, "b": {"d": 3}, "n": 2_147_483_648i64, "z": 1.5})
        );
    }

    #[test]
    fn replacement_keeps_id() {
        assert_eq!(
            update(doc! {"x": 1}, doc! {"_id": 7, "a": 1}),
            Ok(doc! {"_id": 7, "x": 1})
        );
        assert_eq!(update(doc! {"_id": 8, "x": 1}, doc! {"_id": 7}), Err(66));
    }

    #[test]
    fn mongod_checks() {
        assert_eq!(update(doc! {"$set": {"_id": 2}}, doc! {"_id": 1}), Err(66));
        assert_eq!(
            update(doc! {"$inc": {"a": 1}}, doc! {"_id": 1, "a": "s"}),
            Err(14)
        );
        assert_eq!(update(doc! {"$bogus": {"a": 1}}, doc! {}), Err(9));
        assert_eq!(update(doc! {"$set": {"a": 1}, "x": 1}, doc! {}), Err(9));
        assert_eq!(update(doc! {"$set": {"a": 1, "a.b": 1}}, doc! {}), Err(40));
    }

    #[test]
    fn upsert_seeds_from_filter() {
        let filter = Filter::parse(&doc! {"k": 5, "n": {"$gt": 1}}).expect("valid");
        let u = Update::parse(&Bson::Document(
            doc! {"$set": {"v": 1}, "$setOnInsert": {"new": true}},
        ))
        .expect("valid");
        let d = u.upsert_document(&filter).expect("applies");
        assert!(d.get_object_id("_id").is_ok());
        assert_eq!(d.get_i32("k"), Ok(5));
        assert_eq!(d.get_bool("new"), Ok(true));
        assert!(!d.contains_key("n"));
    }
}
