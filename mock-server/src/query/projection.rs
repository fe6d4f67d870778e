//! Projections for `find` and `$project`: inclusion (`{a: 1}`), exclusion (`{a: 0}`), `_id`
//! handling, dotted paths (also through arrays of documents), and computed fields
//! (`{s: "$a.b"}`, `{k: {$literal: 1}}`) in inclusion projections.

use bson::{Bson, Document};

use super::compare::truthy;
use super::expr;
use crate::error::CommandError;
use crate::limits::EXPRESSION_DEPTH_MAX;

/// A parsed projection.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    /// `true` for an inclusion projection, `false` for exclusion.
    inclusion: bool,
    /// Whether `_id` is kept.
    keep_id: bool,
    /// A computed `_id`, if given.
    id_expr: Option<Bson>,
    fields: Vec<(String, Node)>,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Include,
    Exclude,
    Computed(Bson),
    Nested(Vec<(String, Node)>),
}

impl Projection {
    /// Parses a projection document.
    ///
    /// # Errors
    /// Location31254/31253 when inclusion and exclusion are mixed, `BadValue` for
    /// projection operators the mock does not support (`$slice`, `$elemMatch`, `$meta`).
    pub fn parse(spec: &Document) -> Result<Projection, CommandError> {
        let mut projection = Projection {
            inclusion: false,
            keep_id: true,
            id_expr: None,
            fields: Vec::new(),
        };
        let mut saw_include = None::<String>;
        let mut saw_exclude = None::<String>;
        let mut id_included = false;
        for (key, value) in spec {
            let node = parse_node(value, 0)?;
            if key == "_id" {
                match node {
                    Node::Include => {
                        projection.keep_id = true;
                        id_included = true;
                    }
                    Node::Exclude => projection.keep_id = false,
                    Node::Computed(e) => projection.id_expr = Some(e),
                    Node::Nested(_) => {
                        return Err(CommandError::bad_value(
                            "nested _id projections are not supported",
                        ))
                    }
                }
                continue;
            }
            if node_excludes(&node) {
                saw_exclude.get_or_insert_with(|| key.clone());
            } else {
                saw_include.get_or_insert_with(|| key.clone());
            }
            insert_path(&mut projection.fields, key, node);
        }
        match (saw_include, saw_exclude) {
            (Some(_), Some(excluded)) => {
                return Err(CommandError::new(
                    31254,
                    format!("Cannot do exclusion on field {excluded} in inclusion projection"),
                ))
            }
            (Some(_), None) => projection.inclusion = true,
            // Only `_id` named: `{_id: 1}` keeps just `_id`, `{_id: 0}` drops just `_id`.
            (None, None) => projection.inclusion = id_included || projection.id_expr.is_some(),
            (None, Some(_)) => projection.inclusion = false,
        }
        Ok(projection)
    }

    /// Applies the projection to one document.
    ///
    /// # Errors
    /// As [`expr::evaluate`] for computed fields.
    pub fn apply(&self, doc: &Document) -> Result<Document, CommandError> {
        let mut out = if self.inclusion {
            let mut out = Document::new();
            if self.keep_id && self.id_expr.is_none() {
                if let Some(id) = doc.get("_id") {
                    out.insert("_id", id.clone());
                }
            }
            include(doc, &self.fields, doc, &mut out)?;
            out
        } else {
            let mut out = doc.clone();
            if !self.keep_id {
                out.remove("_id");
            }
            exclude(&mut out, &self.fields);
            out
        };
        if let Some(e) = &self.id_expr {
            let mut with_id = Document::new();
            if let Some(v) = expr::evaluate(e, doc)? {
                with_id.insert("_id", v);
            }
            with_id.extend(out);
            out = with_id;
        }
        Ok(out)
    }
}

fn parse_node(value: &Bson, depth: usize) -> Result<Node, CommandError> {
    if depth > EXPRESSION_DEPTH_MAX {
        return Err(CommandError::bad_value("projection nested too deeply"));
    }
    match value {
        Bson::Boolean(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => {
            Ok(if truthy(value) {
                Node::Include
            } else {
                Node::Exclude
            })
        }
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => {
            match d.keys().next().map(String::as_str) {
                Some("$slice" | "$elemMatch" | "$meta") => Err(CommandError::bad_value(
                    "projection operators ($slice, $elemMatch, $meta) are not supported",
                )),
                _ => {
                    expr::validate(value)?;
                    Ok(Node::Computed(value.clone()))
                }
            }
        }
        Bson::Document(d) => {
            let mut children = Vec::new();
            for (k, v) in d {
                insert_path(&mut children, k, parse_node(v, depth + 1)?);
            }
            Ok(Node::Nested(children))
        }
        other => {
            expr::validate(other)?;
            Ok(Node::Computed(other.clone()))
        }
    }
}

fn node_excludes(node: &Node) -> bool {
    match node {
        Node::Exclude => true,
        Node::Include | Node::Computed(_) => false,
        Node::Nested(children) => children.iter().all(|(_, n)| node_excludes(n)),
    }
}

/// Inserts `a.b.c` as nested nodes so that sibling paths share their parents.
fn insert_path(fields: &mut Vec<(String, Node)>, path: &str, node: Node) {
    let (first, rest) = match path.split_once('.') {
        Some((first, rest)) => (first, Some(rest)),
        None => (path, None),
    };
    let Some(rest) = rest else {
        fields.retain(|(k, _)| k != first);
        fields.push((first.to_string(), node));
        return;
    };
    let position = fields
        .iter()
        .position(|(k, n)| k == first && matches!(n, Node::Nested(_)));
    let index = match position {
        Some(i) => i,
        None => {
            fields.retain(|(k, _)| k != first);
            fields.push((first.to_string(), Node::Nested(Vec::new())));
            fields.len() - 1
        }
    };
    if let Node::Nested(children) = &mut fields[index].1 {
        insert_path(children, rest, node);
    }
}

fn include(
    doc: &Document,
    fields: &[(String, Node)],
    root: &Document,
    out: &mut Document,
) -> Result<(), CommandError> {
    // Included fields keep the source document's order; computed ones follow the spec's.
    for (key, value) in doc {
        let Some((_, node)) = fields.iter().find(|(k, _)| k == key) else {
            continue;
        };
        match node {
            Node::Include => {
                out.insert(key.clone(), value.clone());
            }
            Node::Nested(children) => {
                if let Some(v) = include_value(value, children, root)? {
                    out.insert(key.clone(), v);
                }
            }
            Node::Exclude | Node::Computed(_) => {}
        }
    }
    for (key, node) in fields {
        if let Node::Computed(e) = node {
            if let Some(v) = expr::evaluate(e, root)? {
                out.insert(key.clone(), v);
            }
        }
    }
    Ok(())
}

fn include_value(
    value: &Bson,
    children: &[(String, Node)],
    root: &Document,
) -> Result<Option<Bson>, CommandError> {
    match value {
        Bson::Document(d) => {
            let mut sub = Document::new();
            include(d, children, root, &mut sub)?;
            Ok(Some(Bson::Document(sub)))
        }
        Bson::Array(items) => {
            let mut kept = Vec::new();
            for item in items {
                if let Some(v) = include_value(item, children, root)? {
                    kept.push(v);
                }
            }
            Ok(Some(Bson::Array(kept)))
        }
        _ => Ok(None),
    }
}

fn exclude(doc: &mut Document, fields: &[(String, Node)]) {
    for (key, node) in fields {
        match node {
            Node::Exclude => {
                doc.remove(key);
            }
            Node::Nested(children) => match doc.get_mut(key) {
                Some(Bson::Document(d)) => exclude(d, children),
                Some(Bson::Array(items)) => {
                    for item in items {
                        if let Bson::Document(d) = item {
                            exclude(d, children);
                        }
                    }
                }
                _ => {}
            },
            Node::Include | Node::Computed(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn project(spec: Document, doc: Document) -> Document {
        Projection::parse(&spec)
            .expect("valid")
            .apply(&doc)
            .expect("applies")
    }

    #[test]
    fn inclusion_keeps_id_and_listed_fields() {
        let d = doc! {"_id": 1, "a": 1, "b": {"c": 1, "d": 2}, "e": 3};
        assert_eq!(
            project(doc! {"a": 1, "b.c": 1}, d.clone()),
            doc! {"_id": 1, "a": 1, "b": {"c": 1}}
        );
        assert_eq!(project(doc! {"a": 1, "_id": 0}, d.clone()), doc! {"a": 1});
        assert_eq!(
            project(doc! {"x": "$b.d"}, d.clone()),
            doc! {"_id": 1, "x": 2}
        );
        assert_eq!(project(doc! {"_id": 1}, d), doc! {"_id": 1});
    }

    #[test]
    fn exclusion_removes_listed_fields() {
        let d = doc! {"_id": 1, "a": 1, "b": [{"c": 1, "d": 2}], "e": 3};
        assert_eq!(
            project(doc! {"a": 0, "b.c": 0}, d.clone()),
            doc! {"_id": 1, "b": [{"d": 2}], "e": 3}
        );
        assert_eq!(
            project(doc! {"_id": 0}, d),
            doc! {"a": 1, "b": [{"c": 1, "d": 2}], "e": 3}
        );
    }

    #[test]
    fn mixing_is_an_error() {
        assert_eq!(
            Projection::parse(&doc! {"a": 1, "b": 0}).map_err(|e| e.code),
            Err(31254)
        );
    }
}
