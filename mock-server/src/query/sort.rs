//! Sort specifications (`{a: 1, b: -1}`) and the comparison of documents under them.
//!
//! As mongod, an array field sorts by its smallest element ascending and its largest
//! descending, a missing field sorts as `null`, and equal keys keep insertion order (the
//! sort is stable).

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::compare::{as_f64, compare};
use super::path;
use crate::error::CommandError;

/// A parsed sort specification.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sort {
    keys: Vec<(String, bool)>,
}

impl Sort {
    /// Parses `{field: 1 | -1, ...}`.
    ///
    /// # Errors
    /// `BadValue` for a direction other than 1 or -1, or `{$meta: ...}`.
    pub fn parse(spec: &Document) -> Result<Sort, CommandError> {
        let mut keys = Vec::with_capacity(spec.len());
        for (field, direction) in spec {
            let ascending = match as_f64(direction) {
                Some(1.0) => true,
                Some(-1.0) => false,
                _ => {
                    return Err(CommandError::new(
                        15975,
                        "$sort key ordering must be 1 (for ascending) or -1 (for descending)",
                    ))
                }
            };
            keys.push((field.clone(), ascending));
        }
        Ok(Sort { keys })
    }

    /// Whether the specification has no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Sorts `docs` in place (stable).
    pub fn apply(&self, docs: &mut [Document]) {
        if self.keys.is_empty() {
            return;
        }
        docs.sort_by(|a, b| self.compare(a, b));
    }

    /// Compares two documents under this specification.
    pub fn compare(&self, a: &Document, b: &Document) -> Ordering {
        for (field, ascending) in &self.keys {
            let ka = sort_key(a, field, *ascending);
            let kb = sort_key(b, field, *ascending);
            let ord = compare(&ka, &kb);
            let ord = if *ascending { ord } else { ord.reverse() };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

fn sort_key(doc: &Document, field: &str, ascending: bool) -> Bson {
    let mut candidates: Vec<Bson> = Vec::new();
    for found in path::lookup(doc, field) {
        match found {
            None => candidates.push(Bson::Null),
            // An empty array sorts as `undefined`, below `null`.
            Some(Bson::Array(items)) if items.is_empty() => candidates.push(Bson::Undefined),
            Some(Bson::Array(items)) => candidates.extend(items.iter().cloned()),
            Some(v) => candidates.push(v.clone()),
        }
    }
    let pick = if ascending {
        candidates.into_iter().min_by(compare)
    } else {
        candidates.into_iter().max_by(compare)
    };
    pick.unwrap_or(Bson::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn sorts_by_keys_stably() {
        let sort = Sort::parse(&doc! {"a": 1, "b": -1}).expect("valid");
        let mut docs = vec![
            doc! {"a": 2, "b": 1},
            doc! {"a": 1, "b": 1},
            doc! {"a": 1, "b": 5},
            doc! {"b": 0},
        ];
        sort.apply(&mut docs);
        assert_eq!(
            docs,
            vec![
                doc! {"b": 0},
                doc! {"a": 1, "b": 5},
                doc! {"a": 1, "b": 1},
                doc! {"a": 2, "b": 1}
            ]
        );
    }

    #[test]
    fn arrays_sort_by_min_or_max() {
        let mut docs = vec![doc! {"a": [5, 1]}, doc! {"a": 3}];
        Sort::parse(&doc! {"a": 1}).expect("valid").apply(&mut docs);
        assert_eq!(docs[0], doc! {"a": [5, 1]});
        Sort::parse(&doc! {"a": -1})
            .expect("valid")
            .apply(&mut docs);
        assert_eq!(docs[0], doc! {"a": [5, 1]});
    }

    #[test]
    fn bad_direction_is_rejected() {
        assert!(Sort::parse(&doc! {"a": 2}).is_err());
        assert!(Sort::parse(&doc! {"a": {"$meta": "textScore"}}).is_err());
    }
}
