//! mongod's total order over BSON values: type brackets first, then values.
//!
//! Numbers of every width compare by value (`1 == 1.0 == 1i64`), strings compare by bytes
//! (the simple binary collation), documents and arrays element by element. `Decimal128` is
//! ordered with the numbers but compared only by its bytes, because bson 2.x cannot read
//! its value.

use std::cmp::Ordering;

use bson::{Bson, Document};

/// Compares two values in mongod's canonical order.
pub fn compare(a: &Bson, b: &Bson) -> Ordering {
    let by_type = type_rank(a).cmp(&type_rank(b));
    if by_type != Ordering::Equal {
        return by_type;
    }
    compare_same_rank(a, b)
}

/// Whether two values are equal in mongod's sense (`1 == 1.0`).
pub fn equal(a: &Bson, b: &Bson) -> bool {
    compare(a, b) == Ordering::Equal
}

/// The canonical type bracket of a value (mongod's `canonicalizeBSONType`). Comparison
/// operators such as `$gt` only match values of the operand's bracket.
pub fn type_rank(v: &Bson) -> i32 {
    match v {
        Bson::MinKey => -1,
        Bson::Undefined => 0,
        Bson::Null => 5,
        Bson::Double(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Decimal128(_) => 10,
        Bson::String(_) | Bson::Symbol(_) => 15,
        Bson::Document(_) => 20,
        Bson::Array(_) => 25,
        Bson::Binary(_) => 30,
        Bson::ObjectId(_) => 35,
        Bson::Boolean(_) => 40,
        Bson::DateTime(_) => 45,
        Bson::Timestamp(_) => 47,
        Bson::RegularExpression(_) => 50,
        Bson::DbPointer(_) => 55,
        Bson::JavaScriptCode(_) => 60,
        Bson::JavaScriptCodeWithScope(_) => 65,
        Bson::MaxKey => 127,
    }
}

/// Compares two documents field by field: type bracket, then name, then value.
pub fn compare_documents(a: &Document, b: &Document) -> Ordering {
    let mut left = a.iter();
    let mut right = b.iter();
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((ka, va)), Some((kb, vb))) => {
                let ord = type_rank(va)
                    .cmp(&type_rank(vb))
                    .then_with(|| ka.cmp(kb))
                    .then_with(|| compare_same_rank(va, vb));
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

/// The value of a number as `f64`, or `None` for non-numbers (and `Decimal128`).
pub fn as_f64(v: &Bson) -> Option<f64> {
    match v {
        Bson::Double(d) => Some(*d),
        Bson::Int32(i) => Some(f64::from(*i)),
        // Precision loss above 2^53 is accepted: mongod also compares mixed types this way
        // closely enough for a mock.
        Bson::Int64(i) => Some(*i as f64),
        _ => None,
    }
}

/// The value of an integer as `i64`, or `None`.
pub fn as_i64(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        _ => None,
    }
}

/// The truthiness of a value in filters and projections: `false`, `null`, `undefined` and
/// numeric zero are false, everything else is true.
pub fn truthy(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => *b,
        Bson::Null | Bson::Undefined => false,
        Bson::Double(d) => *d != 0.0,
        Bson::Int32(i) => *i != 0,
        Bson::Int64(i) => *i != 0,
        _ => true,
    }
}

fn compare_same_rank(a: &Bson, b: &Bson) -> Ordering {
    match (a, b) {
        (Bson::Decimal128(x), Bson::Decimal128(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Decimal128(_), _) => Ordering::Greater,
        (_, Bson::Decimal128(_)) => Ordering::Less,
        (Bson::Double(_) | Bson::Int32(_) | Bson::Int64(_), _) => compare_numbers(a, b),
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => x.cmp(y),
        (Bson::Document(x), Bson::Document(y)) => compare_documents(x, y),
        (Bson::Array(x), Bson::Array(y)) => compare_arrays(x, y),
        (Bson::Binary(x), Bson::Binary(y)) => x
            .bytes
            .len()
            .cmp(&y.bytes.len())
            .then_with(|| u8::from(x.subtype).cmp(&u8::from(y.subtype)))
            .then_with(|| x.bytes.cmp(&y.bytes)),
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.timestamp_millis().cmp(&y.timestamp_millis()),
        (Bson::Timestamp(x), Bson::Timestamp(y)) => {
            (x.time, x.increment).cmp(&(y.time, y.increment))
        }
        (Bson::RegularExpression(x), Bson::RegularExpression(y)) => x
            .pattern
            .cmp(&y.pattern)
            .then_with(|| x.options.cmp(&y.options)),
        (Bson::JavaScriptCode(x), Bson::JavaScriptCode(y)) => x.cmp(y),
        (Bson::JavaScriptCodeWithScope(x), Bson::JavaScriptCodeWithScope(y)) => x
            .code
            .cmp(&y.code)
            .then_with(|| compare_documents(&x.scope, &y.scope)),
        (Bson::DbPointer(_), Bson::DbPointer(_)) => format!("{a:?}").cmp(&format!("{b:?}")),
        // MinKey, MaxKey, Null and Undefined are alone in their brackets.
        _ => Ordering::Equal,
    }
}

fn compare_numbers(a: &Bson, b: &Bson) -> Ordering {
    // Integers against doubles are compared exactly (not through a lossy `as f64`), so the
    // order is total and transitive: `sort_by` may panic on an order that is not.
    match (as_i64(a), as_i64(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(x), None) => compare_int_double(x, as_f64(b).unwrap_or(f64::NAN)),
        (None, Some(y)) => compare_int_double(y, as_f64(a).unwrap_or(f64::NAN)).reverse(),
        (None, None) => {
            compare_doubles(as_f64(a).unwrap_or(f64::NAN), as_f64(b).unwrap_or(f64::NAN))
        }
    }
}

/// mongod orders NaN below every other number and equal to itself.
fn compare_doubles(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

/// Compares an integer with a double exactly.
fn compare_int_double(i: i64, d: f64) -> Ordering {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if d.is_nan() {
        return Ordering::Greater;
    }
    if d >= TWO_POW_63 {
        return Ordering::Less;
    }
    if d < -TWO_POW_63 {
        return Ordering::Greater;
    }
    // `d` is now within i64's range, so its floor converts exactly.
    let floor = d.floor();
    match i.cmp(&(floor as i64)) {
        Ordering::Equal if d > floor => Ordering::Less,
        other => other,
    }
}

fn compare_arrays(a: &[Bson], b: &[Bson]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let ord = compare(x, y);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, oid::ObjectId};

    #[test]
    fn numbers_compare_across_widths() {
        assert!(equal(&Bson::Int32(1), &Bson::Double(1.0)));
        assert!(equal(&Bson::Int64(7), &Bson::Int32(7)));
        assert_eq!(compare(&Bson::Int32(2), &Bson::Double(2.5)), Ordering::Less);
        assert_eq!(
            compare(&Bson::Double(f64::NAN), &Bson::Int32(-5)),
            Ordering::Less
        );
    }

    #[test]
    fn mixed_number_order_is_transitive() {
        let big = 1i64 << 53;
        let (a, b, c) = (
            Bson::Int64(big + 1),
            Bson::Double(big as f64),
            Bson::Int64(big),
        );
        assert_eq!(compare(&a, &b), Ordering::Greater);
        assert_eq!(compare(&b, &c), Ordering::Equal);
        assert_eq!(compare(&a, &c), Ordering::Greater);
        assert_eq!(
            compare(&Bson::Int64(i64::MAX), &Bson::Double(9.3e18)),
            Ordering::Less
        );
        assert_eq!(
            compare(&Bson::Int32(3), &Bson::Double(2.5)),
            Ordering::Greater
        );
        assert_eq!(
            compare(&Bson::Int32(-3), &Bson::Double(-2.5)),
            Ordering::Less
        );
        let mut values = [
            Bson::Double(f64::NAN),
            a,
            b,
            c,
            Bson::Double(-0.5),
            Bson::Int32(0),
            Bson::Double(f64::INFINITY),
        ];
        values.sort_by(compare);
        assert!(matches!(values[0], Bson::Double(d) if d.is_nan()));
    }

    #[test]
    fn type_brackets_order_before_values() {
        let ordered = [
            Bson::MinKey,
            Bson::Null,
            Bson::Int32(100),
            Bson::String("a".into()),
            Bson::Document(doc! {}),
            Bson::Array(vec![]),
            Bson::ObjectId(ObjectId::new()),
            Bson::Boolean(false),
            Bson::MaxKey,
        ];
        for pair in ordered.windows(2) {
            assert_eq!(compare(&pair[0], &pair[1]), Ordering::Less, "{pair:?}");
        }
    }

    #[test]
    fn documents_compare_by_fields() {
        let a = Bson::Document(doc! {"a": 1, "b": 2});
        let b = Bson::Document(doc! {"a": 1.0, "b": 2i64});
        let c = Bson::Document(doc! {"a": 1, "b": 3});
        assert!(equal(&a, &b));
        assert_eq!(compare(&a, &c), Ordering::Less);
    }
}
