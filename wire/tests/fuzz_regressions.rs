//! Inputs the `wire_decode` fuzz target (fuzz/fuzz_targets/wire_decode.rs) once crashed
//! on, run through the same entry points, plus the committed seed corpus.

use wire::fuzzing::{decode_roundtrip, document_differential};

/// Both entry points, as the fuzz target calls them.
fn wire_decode(data: &[u8]) {
    decode_roundtrip(data);
    document_differential(data);
}

/// crash-5631327d: `{"$minKey": null}` followed by junk. The decoder was right; the
/// oracle was not: `bson::Document::from_reader` reads a document whose first key is an
/// extended-JSON marker as that type (and refused this one), and it was given the
/// trailing bytes too. The differential now parses the one framed document with
/// `bson::RawDocument`.
#[test]
fn minkey_key_is_an_ordinary_key() {
    let mut data = vec![
        0x0e, 0x00, 0x00, 0x00, 0x0a, 0x24, 0x6d, 0x69, 0x6e, 0x4b, 0x65, 0x79, 0x00, 0x00, 0x22,
        0x22, 0x22,
    ];
    data.extend_from_slice(&[0xff; 48]);
    data.extend_from_slice(&[0x22, 0x22]);
    assert_eq!(data.len(), 67);
    wire_decode(&data);
}

/// The same family: a `$numberLong` key must stay a string-valued key, not become an
/// `Int64`, for both parsers to agree.
#[test]
fn extended_json_keys_are_ordinary_keys() {
    for doc in [
        bson::doc! {"$numberLong": "5"},
        bson::doc! {"$oid": "000102030405060708090a0b"},
        bson::doc! {"a": {"$date": 5_i64}},
        bson::doc! {"$maxKey": 1},
    ] {
        let bytes = bson::to_vec(&doc).expect("encodes");
        wire_decode(&bytes);
    }
}

/// Every committed seed of the fuzz target runs clean.
#[test]
fn seed_corpus_runs_clean() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/wire_decode");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return; // Not in a full checkout.
    };
    for entry in entries.flatten() {
        let data = std::fs::read(entry.path()).expect("readable seed");
        wire_decode(&data);
    }
}
