//! The `_id` index's keys: a normalised form of an `_id` under which values the query
//! language finds equal (`1`, `1i64`, `1.0`) share one key.

use bson::Bson;

use crate::query::compare;

/// A normalised `_id` for the unique index: `1`, `1i64` and `1.0` are the same key, as in
/// mongod's KeyString.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(super) struct IdKey(Vec<u8>);

/// Whether the `_id` index answers equality with `id` exactly: every stored `_id` that
/// the query language finds equal to `id` has `id`'s index key, so
/// [`Collection::position_of_id`](super::Collection::position_of_id) finds all matches (at most one) and no scan is needed.
///
/// True for strings, symbols, ObjectIds, booleans, dates, 32-bit integers, and 64-bit
/// integers and doubles short of 9e15 in magnitude (past it an equal integer and double
/// can get different keys). False for `null` (which also matches a missing `_id`),
/// documents, arrays (which match by element) and the rarer types: those are scanned.
pub fn id_lookup_is_exact(id: &Bson) -> bool {
    match id {
        Bson::String(_)
        | Bson::Symbol(_)
        | Bson::ObjectId(_)
        | Bson::Boolean(_)
        | Bson::DateTime(_)
        | Bson::Int32(_) => true,
        Bson::Int64(i) => i.unsigned_abs() < EXACT_NUMBER_BOUND as u64,
        Bson::Double(d) => d.is_nan() || d.abs() < EXACT_NUMBER_BOUND || d.is_infinite(),
        _ => false,
    }
}

/// Below this magnitude, a whole double and an integer that compare equal both normalise
/// to the same `Int64` key (every integer here is exact as an `f64`).
const EXACT_NUMBER_BOUND: f64 = 9.0e15;

impl IdKey {
    /// The key of `id`. Values that compare equal get equal keys (numbers of every width
    /// by value, symbols as strings, documents and arrays deeply), with the bound noted at
    /// [`id_lookup_is_exact`] for very large numbers.
    ///
    /// The common scalar types are encoded directly (a tag byte, then the value's bytes),
    /// without building a document; everything else is the BSON of the normalised value
    /// behind its own tag, so no two encodings collide.
    pub(super) fn of(id: &Bson) -> IdKey {
        let mut bytes = Vec::with_capacity(16);
        match normalise_number(id) {
            Some(Bson::Int64(i)) => {
                bytes.push(KEY_INT);
                bytes.extend_from_slice(&i.to_le_bytes());
                return IdKey(bytes);
            }
            Some(Bson::Double(d)) => {
                // Every NaN is equal to every other: one key for all of them.
                let d = if d.is_nan() { f64::NAN } else { d };
                bytes.push(KEY_DOUBLE);
                bytes.extend_from_slice(&d.to_bits().to_le_bytes());
                return IdKey(bytes);
            }
            _ => {}
        }
        match id {
            Bson::String(s) | Bson::Symbol(s) => {
                bytes.push(KEY_STRING);
                bytes.extend_from_slice(s.as_bytes());
            }
            Bson::ObjectId(oid) => {
                bytes.push(KEY_OBJECT_ID);
                bytes.extend_from_slice(&oid.bytes());
            }
            other => {
                bytes.push(KEY_OTHER);
                let wrapped = bson::doc! {"": normalise(other)};
                // Writing to a Vec cannot fail for a document built in memory; an
                // impossible error would only shorten the key, never lose a document.
                let _ = wrapped.to_writer(&mut bytes);
            }
        }
        IdKey(bytes)
    }
}

/// Key tags: the first byte of every [`IdKey`].
const KEY_INT: u8 = 1;
const KEY_DOUBLE: u8 = 2;
const KEY_STRING: u8 = 3;
const KEY_OBJECT_ID: u8 = 4;
const KEY_OTHER: u8 = 5;

/// The canonical form of a number: whole values short of 9e15 as `Int64`, other
/// integers as `Int64`, other doubles as themselves. `None` for non-numbers.
fn normalise_number(v: &Bson) -> Option<Bson> {
    match v {
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => Some(match compare::as_f64(v) {
            Some(f) if f.fract() == 0.0 && f.abs() < EXACT_NUMBER_BOUND => Bson::Int64(f as i64),
            _ => compare::as_i64(v).map_or_else(|| v.clone(), Bson::Int64),
        }),
        _ => None,
    }
}

/// Numbers that compare equal get the same key; documents and arrays are normalised deeply.
fn normalise(v: &Bson) -> Bson {
    match v {
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => {
            normalise_number(v).unwrap_or_else(|| v.clone())
        }
        Bson::Document(d) => {
            Bson::Document(d.iter().map(|(k, v)| (k.clone(), normalise(v))).collect())
        }
        Bson::Array(items) => Bson::Array(items.iter().map(normalise).collect()),
        Bson::Symbol(s) => Bson::String(s.clone()),
        other => other.clone(),
    }
}
