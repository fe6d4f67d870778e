//! A minimal subset of aggregation expressions, for `$project`, computed find projections
//! and `$group`: field paths (`"$a.b"`), `$$ROOT`/`$$CURRENT`, `$literal`, documents and
//! arrays of expressions, and literals. Other operators are `InvalidPipelineOperator` (168).

use bson::{Bson, Document};

use crate::error::CommandError;
use crate::limits::EXPRESSION_DEPTH_MAX;

/// Evaluates an expression against `root`. `None` means "missing" (the field is left out).
///
/// # Errors
/// `InvalidPipelineOperator` (168) for an operator the mock does not implement.
pub fn evaluate(expr: &Bson, root: &Document) -> Result<Option<Bson>, CommandError> {
    evaluate_at(expr, root, 0)
}

/// Checks that an expression only uses what [`evaluate`] supports, without a document.
///
/// # Errors
/// As [`evaluate`].
pub fn validate(expr: &Bson) -> Result<(), CommandError> {
    evaluate_at(expr, &Document::new(), 0).map(|_| ())
}

fn evaluate_at(expr: &Bson, root: &Document, depth: usize) -> Result<Option<Bson>, CommandError> {
    if depth > EXPRESSION_DEPTH_MAX {
        return Err(CommandError::bad_value(format!(
            "expression nested deeper than {EXPRESSION_DEPTH_MAX}"
        )));
    }
    match expr {
        Bson::String(s) if s.starts_with("$$") => variable(s, root),
        Bson::String(s) if s.starts_with('$') => Ok(field_path(root, &s[1..])),
        Bson::Document(d) => match d.keys().next() {
            Some(op) if op.starts_with('$') => operator(op, d, root),
            _ => {
                let mut out = Document::new();
                for (k, v) in d {
                    if let Some(value) = evaluate_at(v, root, depth + 1)? {
                        out.insert(k.clone(), value);
                    }
                }
                Ok(Some(Bson::Document(out)))
            }
        },
        Bson::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(evaluate_at(item, root, depth + 1)?.unwrap_or(Bson::Null));
            }
            Ok(Some(Bson::Array(out)))
        }
        literal => Ok(Some(literal.clone())),
    }
}

fn variable(name: &str, root: &Document) -> Result<Option<Bson>, CommandError> {
    let (var, rest) = match name[2..].split_once('.') {
        Some((var, rest)) => (var, Some(rest)),
        None => (&name[2..], None),
    };
    match var {
        "ROOT" | "CURRENT" => Ok(match rest {
            Some(path) => field_path(root, path),
            None => Some(Bson::Document(root.clone())),
        }),
        "REMOVE" => Ok(None),
        _ => Err(CommandError::new(
            17276,
            format!("Use of undefined variable: {var}"),
        )),
    }
}

fn operator(op: &str, d: &Document, _root: &Document) -> Result<Option<Bson>, CommandError> {
    if d.len() != 1 {
        return Err(CommandError::new(
            15983,
            format!("an expression specification must contain exactly one field, the name of the expression. Found {} fields", d.len()),
        ));
    }
    match (op, d.get(op)) {
        ("$literal", Some(value)) => Ok(Some(value.clone())),
        _ => Err(CommandError::new(
            168,
            format!("Unrecognized expression '{op}'"),
        )),
    }
}

/// The aggregation meaning of a field path: arrays on the way map to arrays of results.
fn field_path(root: &Document, path: &str) -> Option<Bson> {
    let parts: Vec<&str> = path.split('.').collect();
    let (first, rest) = parts.split_first()?;
    descend(root.get(*first)?, rest)
}

fn descend(value: &Bson, rest: &[&str]) -> Option<Bson> {
    let Some((next, after)) = rest.split_first() else {
        return Some(value.clone());
    };
    match value {
        Bson::Document(d) => descend(d.get(*next)?, after),
        Bson::Array(items) => Some(Bson::Array(
            items
                .iter()
                .filter_map(|item| descend(item, rest))
                .collect(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn field_paths_and_literals() {
        let root = doc! {"a": {"b": 2}, "l": [{"x": 1}, {"x": 2}, {"y": 3}]};
        assert_eq!(
            evaluate(&Bson::String("$a.b".into()), &root),
            Ok(Some(Bson::Int32(2)))
        );
        assert_eq!(
            evaluate(&Bson::String("$l.x".into()), &root),
            Ok(Some(bson::bson!([1, 2])))
        );
        assert_eq!(evaluate(&Bson::String("$zz".into()), &root), Ok(None));
        assert_eq!(
            evaluate(&Bson::Document(doc! {"$literal": "$a"}), &root),
            Ok(Some(Bson::String("$a".into())))
        );
        assert_eq!(
            evaluate(&Bson::Document(doc! {"s": "$a.b"}), &root),
            Ok(Some(Bson::Document(doc! {"s": 2})))
        );
        assert_eq!(
            evaluate(&Bson::Document(doc! {"$add": [1, 2]}), &root).map_err(|e| e.code),
            Err(168)
        );
    }
}
