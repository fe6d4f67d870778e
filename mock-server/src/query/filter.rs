//! Query filters: compiled once from the filter document, then matched against documents.
//!
//! Supported: field equality (with array semantics and `null` matching missing fields),
//! `$eq $ne $gt $gte $lt $lte $in $nin $exists $not $size $all $elemMatch $type`, and the
//! logical `$and $or $nor`. `$comment` is ignored. Anything else is `BadValue`, as mongod
//! reports an unknown operator.

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::compare::{as_f64, compare, equal, truthy, type_rank};
use super::path;
use crate::error::CommandError;
use crate::limits::EXPRESSION_DEPTH_MAX;

/// A compiled filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// Every sub-filter matches (also the form of a plain filter document).
    And(Vec<Filter>),
    /// Some sub-filter matches.
    Or(Vec<Filter>),
    /// No sub-filter matches.
    Nor(Vec<Filter>),
    /// Every condition holds on the value(s) at `path`.
    Field {
        /// The dotted path.
        path: String,
        /// The conditions, all of which must hold.
        conditions: Vec<Condition>,
    },
}

/// One condition on a field.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// `$eq` (and a plain value).
    Eq(Bson),
    /// `$ne`.
    Ne(Bson),
    /// `$gt`.
    Gt(Bson),
    /// `$gte`.
    Gte(Bson),
    /// `$lt`.
    Lt(Bson),
    /// `$lte`.
    Lte(Bson),
    /// `$in`.
    In(Vec<Bson>),
    /// `$nin`.
    Nin(Vec<Bson>),
    /// `$exists`.
    Exists(bool),
    /// `$not`: none of the inner conditions' conjunction holds.
    Not(Vec<Condition>),
    /// `$size`.
    Size(i64),
    /// `$all`.
    All(Vec<Bson>),
    /// `$elemMatch` over documents: some element is a document matching the filter.
    ElemMatchDocument(Box<Filter>),
    /// `$elemMatch` over values: some element satisfies every condition.
    ElemMatchValue(Vec<Condition>),
    /// `$type`: the value's type is one of the listed BSON type numbers (`"number"` is
    /// expanded to the four numeric types).
    Type(Vec<i32>),
}

impl Filter {
    /// Compiles a filter document.
    ///
    /// # Errors
    /// `BadValue` for unknown operators and malformed operands, as mongod's parser does.
    pub fn parse(filter: &Document) -> Result<Filter, CommandError> {
        parse_document(filter, 0)
    }

    /// The filter that matches every document.
    pub fn all() -> Filter {
        Filter::And(Vec::new())
    }

    /// Whether `doc` matches.
    pub fn matches(&self, doc: &Document) -> bool {
        match self {
            Filter::And(parts) => parts.iter().all(|f| f.matches(doc)),
            Filter::Or(parts) => parts.iter().any(|f| f.matches(doc)),
            Filter::Nor(parts) => !parts.iter().any(|f| f.matches(doc)),
            Filter::Field { path, conditions } => {
                conditions.iter().all(|c| field_matches(doc, path, c))
            }
        }
    }

    /// A value that `_id` must equal for a document to match: the first `_id: value` or
    /// `_id: {$eq: value}` at the top level (including inside `$and`). A document that
    /// matches the whole filter has an `_id` equal to it, so an index lookup by this value
    /// finds every candidate, which the whole filter then checks.
    pub fn id_equality(&self) -> Option<&Bson> {
        match self {
            Filter::And(parts) => parts.iter().find_map(Filter::id_equality),
            Filter::Field { path, conditions } if path == "_id" => {
                conditions.iter().find_map(|c| match c {
                    Condition::Eq(v) => Some(v),
                    _ => None,
                })
            }
            _ => None,
        }
    }

    /// The equality conditions that an upsert copies into the new document: top-level
    /// `field: value` and `field: {$eq: value}`, including those inside `$and`.
    pub fn equalities(&self) -> Vec<(&str, &Bson)> {
        let mut out = Vec::new();
        self.collect_equalities(&mut out);
        out
    }

    fn collect_equalities<'a>(&'a self, out: &mut Vec<(&'a str, &'a Bson)>) {
        match self {
            Filter::And(parts) => parts.iter().for_each(|p| p.collect_equalities(out)),
            Filter::Or(parts) if parts.len() == 1 => parts[0].collect_equalities(out),
            Filter::Field { path, conditions } => {
                for c in conditions {
                    if let Condition::Eq(v) = c {
                        out.push((path.as_str(), v));
                    }
                }
            }
            _ => {}
        }
    }
}

fn parse_document(filter: &Document, depth: usize) -> Result<Filter, CommandError> {
    if depth > EXPRESSION_DEPTH_MAX {
        return Err(CommandError::bad_value(format!(
            "filter nested deeper than {EXPRESSION_DEPTH_MAX}"
        )));
    }
    let mut parts = Vec::with_capacity(filter.len());
    for (key, value) in filter {
        match key.as_str() {
            "$and" => parts.push(Filter::And(parse_list(key, value, depth)?)),
            "$or" => parts.push(Filter::Or(parse_list(key, value, depth)?)),
            "$nor" => parts.push(Filter::Nor(parse_list(key, value, depth)?)),
            "$comment" => {}
            k if k.starts_with('$') => {
                return Err(CommandError::bad_value(format!(
                    "unknown top level operator: {k}"
                )));
            }
            _ => parts.push(Filter::Field {
                path: key.clone(),
                conditions: parse_conditions(value, depth)?,
            }),
        }
    }
    Ok(Filter::And(parts))
}

fn parse_list(key: &str, value: &Bson, depth: usize) -> Result<Vec<Filter>, CommandError> {
    let Bson::Array(items) = value else {
        return Err(CommandError::bad_value(format!("{key} must be an array")));
    };
    if items.is_empty() {
        return Err(CommandError::bad_value(
            "$and/$or/$nor must be a nonempty array",
        ));
    }
    items
        .iter()
        .map(|item| match item {
            Bson::Document(d) => parse_document(d, depth + 1),
            _ => Err(CommandError::bad_value(
                "$or/$and/$nor entries need to be full objects",
            )),
        })
        .collect()
}

/// A field's value: an operator document (every key starts with `$`) or a literal to match.
fn parse_conditions(value: &Bson, depth: usize) -> Result<Vec<Condition>, CommandError> {
    match value {
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => d
            .iter()
            .map(|(op, operand)| parse_operator(op, operand, depth))
            .collect(),
        Bson::RegularExpression(_) => Err(CommandError::bad_value(
            "regular expressions are not supported by the mock",
        )),
        other => Ok(vec![Condition::Eq(other.clone())]),
    }
}

fn parse_operator(op: &str, operand: &Bson, depth: usize) -> Result<Condition, CommandError> {
    let condition = match op {
        "$eq" => Condition::Eq(operand.clone()),
        "$ne" => Condition::Ne(operand.clone()),
        "$gt" => Condition::Gt(operand.clone()),
        "$gte" => Condition::Gte(operand.clone()),
        "$lt" => Condition::Lt(operand.clone()),
        "$lte" => Condition::Lte(operand.clone()),
        "$in" => Condition::In(array_operand(op, operand)?),
        "$nin" => Condition::Nin(array_operand(op, operand)?),
        "$all" => Condition::All(array_operand(op, operand)?),
        "$exists" => Condition::Exists(truthy(operand)),
        "$size" => match as_f64(operand) {
            Some(n) if n >= 0.0 && n.fract() == 0.0 => Condition::Size(n as i64),
            _ => {
                return Err(CommandError::bad_value(
                    "$size needs a non-negative whole number",
                ))
            }
        },
        "$not" => match operand {
            Bson::Document(d) if !d.is_empty() => {
                Condition::Not(parse_conditions(operand, depth + 1)?)
            }
            _ => return Err(CommandError::bad_value("$not needs a non-empty document")),
        },
        "$elemMatch" => parse_elem_match(operand, depth)?,
        "$type" => Condition::Type(parse_types(operand)?),
        "$regex" | "$options" => {
            return Err(CommandError::bad_value(
                "regular expressions are not supported by the mock",
            ))
        }
        _ => return Err(CommandError::bad_value(format!("unknown operator: {op}"))),
    };
    Ok(condition)
}

fn array_operand(op: &str, operand: &Bson) -> Result<Vec<Bson>, CommandError> {
    match operand {
        Bson::Array(items) => Ok(items.clone()),
        _ => Err(CommandError::bad_value(format!("{op} needs an array"))),
    }
}

fn parse_elem_match(operand: &Bson, depth: usize) -> Result<Condition, CommandError> {
    let Bson::Document(d) = operand else {
        return Err(CommandError::bad_value("$elemMatch needs an Object"));
    };
    let operators_only = !d.is_empty()
        && d.keys()
            .all(|k| k.starts_with('$') && !matches!(k.as_str(), "$and" | "$or" | "$nor"));
    if operators_only {
        let conditions = d
            .iter()
            .map(|(op, v)| parse_operator(op, v, depth + 1))
            .collect::<Result<_, _>>()?;
        Ok(Condition::ElemMatchValue(conditions))
    } else {
        Ok(Condition::ElemMatchDocument(Box::new(parse_document(
            d,
            depth + 1,
        )?)))
    }
}

fn parse_types(operand: &Bson) -> Result<Vec<i32>, CommandError> {
    let items = match operand {
        Bson::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let mut types = Vec::new();
    for item in items {
        match &item {
            Bson::String(alias) if alias == "number" => types.extend([1, 16, 18, 19]),
            Bson::String(alias) => types.push(type_number_of_alias(alias)?),
            other => match as_f64(other) {
                Some(n) if n.fract() == 0.0 => types.push(n as i32),
                _ => {
                    return Err(CommandError::bad_value(
                        "$type needs a type number or alias",
                    ))
                }
            },
        }
    }
    Ok(types)
}

fn type_number_of_alias(alias: &str) -> Result<i32, CommandError> {
    let n = match alias {
        "double" => 1,
        "string" => 2,
        "object" => 3,
        "array" => 4,
        "binData" => 5,
        "undefined" => 6,
        "objectId" => 7,
        "bool" => 8,
        "date" => 9,
        "null" => 10,
        "regex" => 11,
        "dbPointer" => 12,
        "javascript" => 13,
        "symbol" => 14,
        "javascriptWithScope" => 15,
        "int" => 16,
        "timestamp" => 17,
        "long" => 18,
        "decimal" => 19,
        "minKey" => -1,
        "maxKey" => 127,
        _ => {
            return Err(CommandError::bad_value(format!(
                "Unknown type name alias: {alias}"
            )))
        }
    };
    Ok(n)
}

fn field_matches(doc: &Document, field: &str, condition: &Condition) -> bool {
    match condition {
        Condition::Ne(v) => !field_matches(doc, field, &Condition::Eq(v.clone())),
        Condition::Nin(vs) => !field_matches(doc, field, &Condition::In(vs.clone())),
        Condition::Not(inner) => !inner.iter().all(|c| field_matches(doc, field, c)),
        Condition::Exists(wanted) => {
            path::lookup(doc, field).iter().any(Option::is_some) == *wanted
        }
        _ => {
            let found = path::lookup(doc, field);
            if found.is_empty() {
                return missing_matches(condition);
            }
            found.iter().any(|value| match value {
                None => missing_matches(condition),
                Some(v) => leaf_matches(v, condition),
            })
        }
    }
}

/// A missing field behaves as `null` for equality-like conditions only.
fn missing_matches(condition: &Condition) -> bool {
    match condition {
        Condition::Eq(Bson::Null) | Condition::Gte(Bson::Null) | Condition::Lte(Bson::Null) => true,
        Condition::In(vs) => vs.contains(&Bson::Null),
        _ => false,
    }
}

/// A value matches directly, or (for element-wise conditions) through one of its elements.
fn leaf_matches(value: &Bson, condition: &Condition) -> bool {
    if value_matches(value, condition) {
        return true;
    }
    let element_wise = !matches!(
        condition,
        Condition::Size(_)
            | Condition::All(_)
            | Condition::ElemMatchDocument(_)
            | Condition::ElemMatchValue(_)
    );
    match value {
        Bson::Array(items) if element_wise => {
            items.iter().any(|item| value_matches(item, condition))
        }
        _ => false,
    }
}

fn value_matches(value: &Bson, condition: &Condition) -> bool {
    match condition {
        Condition::Eq(v) => equal(value, v),
        Condition::Ne(v) => !equal(value, v),
        Condition::Gt(v) => ordered(value, v, |o| o == Ordering::Greater),
        Condition::Gte(v) => ordered(value, v, |o| o != Ordering::Less),
        Condition::Lt(v) => ordered(value, v, |o| o == Ordering::Less),
        Condition::Lte(v) => ordered(value, v, |o| o != Ordering::Greater),
        Condition::In(vs) => vs.iter().any(|v| equal(value, v)),
        Condition::Nin(vs) => !vs.iter().any(|v| equal(value, v)),
        Condition::Exists(wanted) => *wanted,
        Condition::Not(inner) => !inner.iter().all(|c| value_matches(value, c)),
        Condition::Size(n) => matches!(value, Bson::Array(items) if items.len() as i64 == *n),
        Condition::All(vs) => {
            !vs.is_empty()
                && vs.iter().all(|v| {
                    equal(value, v)
                        || matches!(value, Bson::Array(items) if items.iter().any(|i| equal(i, v)))
                })
        }
        Condition::ElemMatchDocument(filter) => match value {
            Bson::Array(items) => items
                .iter()
                .any(|i| matches!(i, Bson::Document(d) if filter.matches(d))),
            _ => false,
        },
        Condition::ElemMatchValue(conditions) => match value {
            Bson::Array(items) => items
                .iter()
                .any(|i| conditions.iter().all(|c| value_matches(i, c))),
            _ => false,
        },
        Condition::Type(types) => types.contains(&type_number(value)),
    }
}

/// Comparison operators only match within the operand's type bracket (MinKey and MaxKey
/// operands compare against everything).
fn ordered(value: &Bson, operand: &Bson, accept: impl Fn(Ordering) -> bool) -> bool {
    let bracketed =
        matches!(operand, Bson::MinKey | Bson::MaxKey) || type_rank(value) == type_rank(operand);
    bracketed && accept(compare(value, operand))
}

fn type_number(value: &Bson) -> i32 {
    match value {
        Bson::Double(_) => 1,
        Bson::String(_) => 2,
        Bson::Document(_) => 3,
        Bson::Array(_) => 4,
        Bson::Binary(_) => 5,
        Bson::Undefined => 6,
        Bson::ObjectId(_) => 7,
        Bson::Boolean(_) => 8,
        Bson::DateTime(_) => 9,
        Bson::Null => 10,
        Bson::RegularExpression(_) => 11,
        Bson::DbPointer(_) => 12,
        Bson::JavaScriptCode(_) => 13,
        Bson::Symbol(_) => 14,
        Bson::JavaScriptCodeWithScope(_) => 15,
        Bson::Int32(_) => 16,
        Bson::Timestamp(_) => 17,
        Bson::Int64(_) => 18,
        Bson::Decimal128(_) => 19,
        Bson::MinKey => -1,
        Bson::MaxKey => 127,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn check(filter: Document, doc: Document) -> bool {
        Filter::parse(&filter).expect("valid filter").matches(&doc)
    }

    #[test]
    fn equality_with_arrays_and_null() {
        assert!(check(doc! {"a": 1}, doc! {"a": 1.0}));
        assert!(check(doc! {"a": 2}, doc! {"a": [1, 2, 3]}));
        assert!(check(doc! {"a": [1, 2]}, doc! {"a": [1, 2]}));
        assert!(check(doc! {"a": null}, doc! {"b": 1}));
        assert!(!check(doc! {"a": null}, doc! {"a": 0}));
        assert!(check(doc! {"a.b": 5}, doc! {"a": [{"b": 4}, {"b": 5}]}));
    }

    #[test]
    fn comparison_operators_respect_type_brackets() {
        assert!(check(doc! {"a": {"$gt": 1, "$lte": 3}}, doc! {"a": 3}));
        assert!(!check(doc! {"a": {"$gt": 1}}, doc! {"a": "zzz"}));
        assert!(check(doc! {"a": {"$lt": 5}}, doc! {"a": [10, 2]}));
        assert!(check(doc! {"a": {"$in": [1, 9]}}, doc! {"a": 9}));
        assert!(check(doc! {"a": {"$nin": [1, 9]}}, doc! {"a": 8}));
        assert!(!check(doc! {"a": {"$ne": 2}}, doc! {"a": [1, 2]}));
    }

    #[test]
    fn exists_and_logic() {
        assert!(check(doc! {"a": {"$exists": false}}, doc! {"b": 1}));
        assert!(check(doc! {"$or": [{"a": 1}, {"b": 2}]}, doc! {"b": 2}));
        assert!(!check(doc! {"$and": [{"a": 1}, {"b": 2}]}, doc! {"b": 2}));
        assert!(check(doc! {"$nor": [{"a": 1}]}, doc! {"a": 2}));
        assert!(check(doc! {"a": {"$not": {"$gt": 5}}}, doc! {"a": 3}));
    }

    #[test]
    fn array_operators() {
        assert!(check(doc! {"a": {"$size": 2}}, doc! {"a": [1, 2]}));
        assert!(check(doc! {"a": {"$all": [1, 2]}}, doc! {"a": [2, 3, 1]}));
        assert!(check(
            doc! {"a": {"$elemMatch": {"x": 1, "y": 2}}},
            doc! {"a": [{"x": 1, "y": 2}]}
        ));
        assert!(!check(
            doc! {"a": {"$elemMatch": {"x": 1, "y": 2}}},
            doc! {"a": [{"x": 1}, {"y": 2}]}
        ));
        assert!(check(
            doc! {"a": {"$elemMatch": {"$gt": 3, "$lt": 5}}},
            doc! {"a": [1, 4]}
        ));
        assert!(check(doc! {"a": {"$type": "string"}}, doc! {"a": "s"}));
    }

    #[test]
    fn bad_filters_are_bad_values() {
        for bad in [
            doc! {"$foo": 1},
            doc! {"a": {"$bogus": 1}},
            doc! {"$or": []},
            doc! {"a": {"$in": 1}},
        ] {
            assert_eq!(Filter::parse(&bad).map_err(|e| e.code), Err(2), "{bad}");
        }
    }
}
