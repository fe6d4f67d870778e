//! Dotted field paths (`a.b.0.c`): reading them the way mongod's matcher does, and writing
//! them the way its update operators do.

use bson::{Bson, Document};

use crate::error::CommandError;

/// Every value a dotted path reaches in `doc`, as the matcher sees them.
///
/// Arrays on the way are traversed: `a.b` over `{a: [{b: 1}, {b: 2}]}` reaches `1` and
/// `2`, and a numeric part may also index the array (`a.0.b`). A `None` entry means the path
/// was missing in one of the array's documents, so that `{"a.b": null}` matches there as
/// mongod does. An empty result means the path is missing altogether.
pub fn lookup<'a>(doc: &'a Document, path: &str) -> Vec<Option<&'a Bson>> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    walk_document(doc, &parts, &mut out);
    out
}

/// The single value at a dotted path, without array traversal (`a.0` indexes arrays).
pub fn get<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut current = doc.get(first)?;
    for part in parts {
        current = match current {
            Bson::Document(d) => d.get(part)?,
            Bson::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Sets the value at a dotted path, creating missing intermediate documents.
///
/// # Errors
/// `PathNotViable` (28) when an intermediate value is a scalar, as mongod's `$set` does.
pub fn set(doc: &mut Document, path: &str, value: Bson) -> Result<(), CommandError> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(CommandError::new(
            56,
            format!("An empty update path is not valid: '{path}'"),
        ));
    }
    set_in_document(doc, &parts, value, path)
}

/// Removes the value at a dotted path (an array element becomes `null`, as `$unset` does).
/// Returns whether something was there.
pub fn unset(doc: &mut Document, path: &str) -> bool {
    let parts: Vec<&str> = path.split('.').collect();
    unset_in_document(doc, &parts)
}

fn walk_document<'a>(doc: &'a Document, parts: &[&str], out: &mut Vec<Option<&'a Bson>>) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    if let Some(value) = doc.get(*first) {
        walk_value(value, rest, out);
    }
}

fn walk_value<'a>(value: &'a Bson, rest: &[&str], out: &mut Vec<Option<&'a Bson>>) {
    let Some((next, after)) = rest.split_first() else {
        out.push(Some(value));
        return;
    };
    match value {
        Bson::Document(d) => walk_document(d, rest, out),
        Bson::Array(items) => {
            let index = next.parse::<usize>().ok();
            if let Some(item) = index.and_then(|i| items.get(i)) {
                walk_value(item, after, out);
            }
            for item in items {
                if let Bson::Document(d) = item {
                    let before = out.len();
                    walk_document(d, rest, out);
                    // A numeric part is an index first; only a field name marks "missing".
                    if out.len() == before && index.is_none() {
                        out.push(None);
                    }
                }
            }
        }
        _ => {}
    }
}

fn set_in_document(
    doc: &mut Document,
    parts: &[&str],
    value: Bson,
    path: &str,
) -> Result<(), CommandError> {
    let Some((first, rest)) = parts.split_first() else {
        return Ok(());
    };
    if rest.is_empty() {
        doc.insert(*first, value);
        return Ok(());
    }
    if !doc.contains_key(*first) {
        doc.insert(*first, Document::new());
    }
    match doc.get_mut(*first) {
        Some(child) => set_in_value(child, rest, value, path),
        None => Ok(()),
    }
}

fn set_in_value(
    target: &mut Bson,
    parts: &[&str],
    value: Bson,
    path: &str,
) -> Result<(), CommandError> {
    match target {
        Bson::Document(d) => set_in_document(d, parts, value, path),
        Bson::Array(items) => {
            let Some((first, rest)) = parts.split_first() else {
                return Ok(());
            };
            let Ok(index) = first.parse::<usize>() else {
                return Err(not_viable(path, first));
            };
            if index > crate::limits::WRITE_BATCH_SIZE_MAX as usize {
                return Err(CommandError::bad_value(format!(
                    "array index {index} is too large in '{path}'"
                )));
            }
            while items.len() <= index {
                items.push(Bson::Null);
            }
            if rest.is_empty() {
                items[index] = value;
                return Ok(());
            }
            if !matches!(items[index], Bson::Document(_) | Bson::Array(_)) {
                if items[index] != Bson::Null {
                    return Err(not_viable(path, rest[0]));
                }
                items[index] = Bson::Document(Document::new());
            }
            set_in_value(&mut items[index], rest, value, path)
        }
        _ => Err(not_viable(path, parts.first().copied().unwrap_or_default())),
    }
}

fn unset_in_document(doc: &mut Document, parts: &[&str]) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return false;
    };
    if rest.is_empty() {
        return doc.remove(*first).is_some();
    }
    match doc.get_mut(*first) {
        Some(Bson::Document(d)) => unset_in_document(d, rest),
        Some(Bson::Array(items)) => unset_in_array(items, rest),
        _ => false,
    }
}

fn unset_in_array(items: &mut [Bson], parts: &[&str]) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return false;
    };
    let Some(item) = first.parse::<usize>().ok().and_then(|i| items.get_mut(i)) else {
        return false;
    };
    if rest.is_empty() {
        let was_there = *item != Bson::Null;
        *item = Bson::Null;
        return was_there;
    }
    match item {
        Bson::Document(d) => unset_in_document(d, rest),
        Bson::Array(inner) => unset_in_array(inner, rest),
        _ => false,
    }
}

fn not_viable(path: &str, part: &str) -> CommandError {
    CommandError::new(
        28,
        format!("Cannot create field '{part}' in element along the path '{path}'"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn lookup_traverses_arrays() {
        let d = doc! {"a": [{"b": 1}, {"c": 2}, {"b": 3}]};
        let found = lookup(&d, "a.b");
        assert_eq!(
            found,
            vec![Some(&Bson::Int32(1)), None, Some(&Bson::Int32(3))]
        );
        assert_eq!(lookup(&d, "a.0.b"), vec![Some(&Bson::Int32(1))]);
        assert!(lookup(&d, "x.y").is_empty());
    }

    #[test]
    fn set_creates_intermediate_documents() {
        let mut d = doc! {"a": 1};
        set(&mut d, "b.c.d", Bson::Int32(5)).expect("viable");
        assert_eq!(d, doc! {"a": 1, "b": {"c": {"d": 5}}});
        assert_eq!(
            set(&mut d, "a.x", Bson::Int32(1)).map_err(|e| e.code),
            Err(28)
        );
    }

    #[test]
    fn unset_removes_fields() {
        let mut d = doc! {"a": {"b": 1, "c": 2}, "l": [1, 2]};
        assert!(unset(&mut d, "a.b"));
        assert!(!unset(&mut d, "a.zz"));
        assert!(unset(&mut d, "l.1"));
        assert_eq!(d, doc! {"a": {"c": 2}, "l": [1, Bson::Null]});
    }
}
