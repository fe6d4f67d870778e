//! Unit tests of the BSON parser and writer against the `bson` crate.

use bson::{doc, Bson};

use super::write::{encode_document, index_key, INDEX_KEY_MAX};
use super::*;
use crate::limits::MAX_BSON_DEPTH;

fn bytes(doc: &Document) -> Vec<u8> {
    bson::to_vec(doc).unwrap()
}

fn read(raw: &[u8]) -> Result<Document, WireError> {
    read_document(&mut Reader::new(raw))
}

#[test]
fn accepts_every_element_type() {
    let doc = doc! {
        "double": 1.5, "string": "s", "doc": { "a": 1 }, "array": [1, "two"],
        "binary": Bson::Binary(bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1, 2] }),
        "undefined": Bson::Undefined, "oid": bson::oid::ObjectId::from_bytes([7; 12]),
        "bool": true, "date": bson::DateTime::from_millis(5), "null": Bson::Null,
        "regex": bson::Regex { pattern: "^a".into(), options: "i".into() },
        "code": Bson::JavaScriptCode("f()".into()),
        "scoped": Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope { code: "g()".into(), scope: doc! { "x": 1 } }),
        "int32": 3_i32, "ts": bson::Timestamp { time: 1, increment: 2 }, "int64": 4_i64,
        "decimal": bson::Decimal128::from_bytes([1; 16]), "min": Bson::MinKey, "max": Bson::MaxKey,
        "symbol": Bson::Symbol("sym".into()),
    };
    let raw = bytes(&doc);
    assert_eq!(read(&raw).unwrap(), doc);
}

/// The document of `accepts_every_element_type`, less the types that go through the
/// `bson` crate's serializer.
fn direct_types() -> Document {
    doc! {
        "double": 1.5, "nan": f64::NAN, "string": "s\u{0}inner NUL", "empty": "",
        "doc": { "a": 1, "nested": { "b": [] } }, "array": [1, "two", [3], { "four": 4 }],
        "undefined": Bson::Undefined, "oid": bson::oid::ObjectId::from_bytes([7; 12]),
        "bool": true, "false": false, "date": bson::DateTime::from_millis(-5),
        "null": Bson::Null, "code": Bson::JavaScriptCode("f()".into()),
        "int32": -3_i32, "ts": bson::Timestamp { time: 1, increment: 2 }, "int64": 4_i64,
        "decimal": bson::Decimal128::from_bytes([1; 16]), "min": Bson::MinKey,
        "max": Bson::MaxKey, "symbol": Bson::Symbol("sym".into()), "ünïcode ключ": "ü",
        "long array": (0..25).map(Bson::Int32).collect::<Vec<_>>(),
    }
}

fn written(doc: &Document) -> Result<Vec<u8>, WireError> {
    let mut buf = vec![0xAA];
    write_document(&mut buf, doc)?;
    assert_eq!(buf[0], 0xAA, "appends after what the buffer held");
    Ok(buf.split_off(1))
}

#[test]
fn writes_the_bson_crates_bytes() {
    // Written directly.
    let direct = direct_types();
    let mut buf = Vec::new();
    assert!(encode_document(&mut buf, &direct).is_ok());
    assert_eq!(buf, bytes(&direct));
    assert_eq!(written(&direct).unwrap(), bytes(&direct));
    assert_eq!(written(&doc! {}).unwrap(), bytes(&doc! {}));
    // Every type, some through the bson crate's serializer, nested too.
    let every = doc! {
        "binary": Bson::Binary(bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1, 2] }),
        "old binary": Bson::Binary(bson::Binary { subtype: bson::spec::BinarySubtype::BinaryOld, bytes: vec![3] }),
        "regex": bson::Regex { pattern: "^a".into(), options: "si".into() },
        "scoped": Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope { code: "g()".into(), scope: doc! { "x": 1 } }),
        "direct": direct.clone(),
        "in array": [direct.clone(), Bson::RegularExpression(bson::Regex { pattern: "b".into(), options: "mi".into() })],
    };
    assert_eq!(written(&every).unwrap(), bytes(&every));
    // A DBPointer can only come from decoding.
    let mut db_pointer = 5_i32.to_le_bytes().to_vec();
    db_pointer.extend_from_slice(b"a.bc\0");
    db_pointer.extend_from_slice(&[9; 12]);
    let decoded = read(&single(0x0C, &db_pointer)).unwrap();
    assert_eq!(written(&decoded).unwrap(), bytes(&decoded));
}

#[test]
fn unwritable_documents_fail_as_the_bson_crate_does() {
    let mut inner = Document::new();
    inner.insert("bad\0key", 1);
    for doc in [
        inner.clone(),
        doc! { "ok": 1, "nested": inner.clone() },
        doc! { "a": [inner] },
    ] {
        let ours = written(&doc);
        assert!(matches!(ours, Err(WireError::EncodeBson(_))), "{ours:?}");
        assert!(bson::to_vec(&doc).is_err());
    }
    let regex = doc! { "r": bson::Regex { pattern: "a\0".into(), options: String::new() } };
    assert!(matches!(written(&regex), Err(WireError::EncodeBson(_))));
}

#[test]
fn array_keys_count_in_decimal() {
    let mut scratch = [0; INDEX_KEY_MAX];
    for (index, key) in [(0, "0"), (7, "7"), (10, "10"), (12_345, "12345")] {
        assert_eq!(index_key(&mut scratch, index), key);
    }
    assert_eq!(
        index_key(&mut scratch, usize::MAX),
        usize::MAX.to_string().as_str()
    );
}

#[test]
fn rejects_bad_lengths_before_allocating() {
    // Declared length far beyond the bytes at hand.
    let mut raw = bytes(&doc! { "a": 1 });
    raw[..4].copy_from_slice(&i32::MAX.to_le_bytes());
    assert!(matches!(read(&raw), Err(WireError::BadBson(_))));
    // Declared length below 5, and negative.
    for declared in [4_i32, -1] {
        raw[..4].copy_from_slice(&declared.to_le_bytes());
        assert!(matches!(read(&raw), Err(WireError::BadBson(_))));
    }
    // Cut off.
    assert!(matches!(read(&[5, 0]), Err(WireError::BadBson(_))));
}

#[test]
fn rejects_bad_framing_inside() {
    // A string whose length runs past the document.
    let mut raw = bytes(&doc! { "s": "abc" });
    raw[7..11].copy_from_slice(&100_i32.to_le_bytes());
    assert!(matches!(read(&raw), Err(WireError::BadBson(_))));
    // An unknown element type.
    let mut raw = bytes(&doc! { "n": 1 });
    raw[4] = 0x42;
    assert!(matches!(read(&raw), Err(WireError::BadBson(_))));
    // A missing terminator.
    let mut raw = bytes(&doc! { "n": 1 });
    let last = raw.len() - 1;
    raw[last] = 1;
    assert!(matches!(read(&raw), Err(WireError::BadBson(_))));
}

/// A document holding the single element `element_type, "k", value`.
fn single(element_type: u8, value: &[u8]) -> Vec<u8> {
    let mut raw = ((4 + 1 + 2 + value.len() + 1) as i32)
        .to_le_bytes()
        .to_vec();
    raw.extend_from_slice(&[element_type, b'k', 0]);
    raw.extend_from_slice(value);
    raw.push(0);
    raw
}

#[test]
fn hand_made_edge_cases_agree_with_the_bson_crate() {
    let mut db_pointer = 5_i32.to_le_bytes().to_vec();
    db_pointer.extend_from_slice(b"a.bc\0");
    db_pointer.extend_from_slice(&[9; 12]);
    let cases = [
        single(0x08, &[2]),                                         // boolean 2: refused
        single(0x0C, &db_pointer),                                  // DBPointer: accepted
        single(0x0B, b"a\0si\0"),                                   // unsorted regex options
        single(0x05, &[4, 0, 0, 0, 2, 0, 0, 0, 0]),                 // old binary, inner length 0
        single(0x05, &[4, 0, 0, 0, 2, 1, 0, 0, 0]), // old binary, wrong inner length
        single(0x02, &[2, 0, 0, 0, 0xC3, 0]),       // truncated UTF-8
        single(0x0F, &[14, 0, 0, 0, 1, 0, 0, 0, 0, 5, 0, 0, 0, 0]), // empty code, empty scope
        single(0x0F, &[13, 0, 0, 0, 1, 0, 0, 0, 0, 4, 0, 0, 0]), // scope too short
    ];
    for raw in &cases {
        crate::fuzzing::document_differential(raw);
    }
    assert!(
        read(&cases[1]).is_ok(),
        "DBPointer goes through the bson crate"
    );
    assert!(read(&cases[0]).is_err());
    assert!(read(&cases[7]).is_err());
}

fn nested(depth: usize) -> Document {
    let mut doc = doc! { "leaf": 1 };
    for _ in 1..depth {
        doc = doc! { "d": doc };
    }
    doc
}

#[test]
fn depth_is_bounded_without_recursion() {
    let ok = nested(MAX_BSON_DEPTH);
    assert_eq!(read(&bytes(&ok)).unwrap(), ok);
    // Build an over-deep document by hand, not with `bson` (which would recurse).
    let depth = 100_000;
    let mut raw = Vec::new();
    for level in 0..depth {
        let size = 5 + (depth - level - 1) * 8;
        raw.extend_from_slice(&(size as i32).to_le_bytes());
        if level + 1 < depth {
            raw.extend_from_slice(&[0x03, b'd', 0]);
        }
    }
    raw.extend(std::iter::repeat_n(0, depth));
    let err = read(&raw).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::LimitExceeded {
                max: MAX_BSON_DEPTH,
                ..
            }
        ),
        "{err}"
    );
}
