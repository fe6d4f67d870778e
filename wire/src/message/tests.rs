//! Goal: every malformed input gives its typed error, and every message kind round-trips.
//! Method: encode known messages, then corrupt one field at a time.

use bson::{doc, Document};

use super::*;
use crate::limits::{DEFAULT_MAX_MESSAGE_SIZE, MAX_SECTIONS_PER_MESSAGE};

const MAX: usize = DEFAULT_MAX_MESSAGE_SIZE;

fn ping() -> Message {
    Message::Msg(OpMsg::command(doc! { "ping": 1, "$db": "admin" }))
}

fn insert() -> OpMsg {
    OpMsg {
        flags: MsgFlags::empty(),
        sections: vec![
            Section::Body(doc! { "insert": "coll", "$db": "test" }),
            Section::Sequence {
                identifier: "documents".into(),
                documents: vec![doc! { "_id": 1, "x": "a" }, doc! { "_id": 2 }],
            },
        ],
        checksum: None,
    }
}

fn round_trip(message: &Message) {
    let bytes = message.encode(42, 7);
    let (header, decoded) = Message::decode(&bytes, MAX).unwrap();
    assert_eq!(header.message_length as usize, bytes.len());
    assert_eq!((header.request_id, header.response_to), (42, 7));
    assert_eq!(header.op_code, message.op_code().raw());
    assert_eq!(&decoded, message);
    assert_eq!(
        decoded.encode(42, 7),
        bytes,
        "re-encoding is byte-identical"
    );
}

/// Builds a message from a raw header and body.
fn raw(op_code: i32, body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    Header {
        message_length: (16 + body.len()) as i32,
        request_id: 1,
        response_to: 0,
        op_code,
    }
    .encode(&mut bytes);
    bytes.extend_from_slice(body);
    bytes
}

fn doc_bytes(doc: &Document) -> Vec<u8> {
    bson::to_vec(doc).unwrap()
}

// ===== round trips =====

#[test]
fn op_msg_round_trips() {
    round_trip(&ping());
    round_trip(&Message::Msg(insert()));
    let mut exhaust = insert();
    exhaust.flags = MsgFlags::MORE_TO_COME | MsgFlags::EXHAUST_ALLOWED;
    round_trip(&Message::Msg(exhaust));
}

#[test]
fn op_msg_with_checksum_round_trips() {
    let mut msg = insert();
    msg.flags = MsgFlags::CHECKSUM_PRESENT;
    let bytes = Message::Msg(msg.clone()).encode(1, 0);
    let (_, decoded) = Message::decode(&bytes, MAX).unwrap();
    let Message::Msg(decoded) = decoded else {
        panic!("not an OP_MSG")
    };
    let stored = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap());
    assert_eq!(decoded.checksum, Some(stored));
    assert_eq!(stored, crate::checksum::crc32c(&bytes[..bytes.len() - 4]));
    assert_eq!(decoded.sections, msg.sections);
    assert_eq!(Message::Msg(decoded).encode(1, 0), bytes);
}

#[test]
fn legacy_messages_round_trip() {
    round_trip(&Message::Query(OpQuery {
        flags: 4,
        full_collection_name: "admin.$cmd".into(),
        number_to_skip: 0,
        number_to_return: -1,
        query: doc! { "isMaster": 1, "helloOk": true },
        return_fields_selector: None,
    }));
    round_trip(&Message::Query(OpQuery {
        flags: 0,
        full_collection_name: "db.coll".into(),
        number_to_skip: 3,
        number_to_return: 10,
        query: doc! { "$query": { "a": 1 } },
        return_fields_selector: Some(doc! { "a": 1 }),
    }));
    round_trip(&Message::Reply(OpReply::command_reply(
        doc! { "ismaster": true, "ok": 1.0 },
    )));
    round_trip(&Message::Reply(OpReply {
        response_flags: 8,
        cursor_id: -5,
        starting_from: 2,
        documents: vec![],
    }));
}

#[test]
fn sequences_fold_into_the_command() {
    let bytes = Message::Msg(insert()).encode(1, 0);
    let (_, Message::Msg(msg)) = Message::decode(&bytes, MAX).unwrap() else {
        panic!("not an OP_MSG")
    };
    assert_eq!(
        msg.into_command().unwrap(),
        doc! { "insert": "coll", "$db": "test", "documents": [{ "_id": 1, "x": "a" }, { "_id": 2 }] }
    );
}

// ===== header and length errors =====

#[test]
fn short_header() {
    assert!(matches!(
        Message::decode(&[], MAX),
        Err(WireError::ShortHeader)
    ));
    let bytes = ping().encode(1, 0);
    assert!(matches!(
        Message::decode(&bytes[..15], MAX),
        Err(WireError::ShortHeader)
    ));
}

#[test]
fn negative_and_undersized_lengths() {
    let mut bytes = ping().encode(1, 0);
    bytes[..4].copy_from_slice(&(-20_i32).to_le_bytes());
    assert!(matches!(
        Message::decode(&bytes, MAX),
        Err(WireError::NegativeLength)
    ));
    bytes[..4].copy_from_slice(&12_i32.to_le_bytes());
    assert!(matches!(
        Message::decode(&bytes, MAX),
        Err(WireError::Undersized(12))
    ));
}

#[test]
fn oversized() {
    let bytes = ping().encode(1, 0);
    let err = Message::decode(&bytes, bytes.len() - 1).unwrap_err();
    assert!(
        matches!(err, WireError::Oversized { length, max } if length == bytes.len() && max == length - 1)
    );
}

#[test]
fn truncated_and_overlong_buffers() {
    let bytes = ping().encode(1, 0);
    let err = Message::decode(&bytes[..bytes.len() - 1], MAX).unwrap_err();
    assert!(
        matches!(err, WireError::Truncated { expected, got } if expected == bytes.len() && got == expected - 1)
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        Message::decode(&longer, MAX),
        Err(WireError::LengthMismatch { .. })
    ));
}

#[test]
fn unknown_opcode() {
    let bytes = raw(2010, &[0; 8]);
    assert!(matches!(
        Message::decode(&bytes, MAX),
        Err(WireError::UnknownOpCode(2010))
    ));
}

#[test]
fn compressed_is_refused_with_a_typed_error() {
    // originalOpcode 2013, uncompressedSize, compressorId 1 (snappy), then "data".
    let mut body = Vec::new();
    body.extend_from_slice(&2013_i32.to_le_bytes());
    body.extend_from_slice(&100_i32.to_le_bytes());
    body.push(1);
    body.extend_from_slice(b"data");
    let bytes = raw(2012, &body);
    assert!(matches!(
        Message::decode(&bytes, MAX),
        Err(WireError::CompressionUnsupported)
    ));
}

// ===== OP_MSG errors =====

fn op_msg(flags: u32, sections: &[u8]) -> Vec<u8> {
    let mut body = flags.to_le_bytes().to_vec();
    body.extend_from_slice(sections);
    raw(2013, &body)
}

fn body_section(doc: &Document) -> Vec<u8> {
    let mut section = vec![0];
    section.extend_from_slice(&doc_bytes(doc));
    section
}

#[test]
fn unknown_required_flag_bit() {
    let bytes = op_msg(1 << 5, &body_section(&doc! { "ping": 1 }));
    assert!(matches!(
        Message::decode(&bytes, MAX),
        Err(WireError::BadFlags(32))
    ));
    // An unknown optional bit is fine, and kept.
    let bytes = op_msg(1 << 20, &body_section(&doc! { "ping": 1 }));
    let (_, Message::Msg(msg)) = Message::decode(&bytes, MAX).unwrap() else {
        panic!("not an OP_MSG")
    };
    assert_eq!(msg.flags.bits(), 1 << 20);
    assert_eq!(Message::Msg(msg).encode(1, 0), bytes);
}

#[test]
fn bad_section_kind() {
    let mut sections = body_section(&doc! { "ping": 1 });
    sections.extend_from_slice(&[2, 5, 0, 0, 0, 0]);
    let bytes = op_msg(0, &sections);
    assert!(matches!(
        Message::decode(&bytes, MAX),
        Err(WireError::UnknownSectionKind(2))
    ));
}

#[test]
fn body_count_must_be_one() {
    let no_sections = op_msg(0, &[]);
    assert!(matches!(
        Message::decode(&no_sections, MAX),
        Err(WireError::BadSection(_))
    ));
    let mut two = body_section(&doc! { "a": 1 });
    two.extend_from_slice(&body_section(&doc! { "b": 1 }));
    assert!(matches!(
        Message::decode(&op_msg(0, &two), MAX),
        Err(WireError::BadSection(_))
    ));
}

#[test]
fn bad_sequence_sizes() {
    for size in [-1_i32, 3, 1000] {
        let mut sections = body_section(&doc! { "insert": "c" });
        sections.push(1);
        sections.extend_from_slice(&size.to_le_bytes());
        sections.extend_from_slice(b"documents\0");
        let err = Message::decode(&op_msg(0, &sections), MAX).unwrap_err();
        assert!(
            matches!(err, WireError::BadSection(_)),
            "size {size}: {err}"
        );
    }
    // A document inside the sequence that runs past the sequence's end.
    let mut sections = body_section(&doc! { "insert": "c" });
    let doc = doc_bytes(&doc! { "_id": 1 });
    sections.push(1);
    sections.extend_from_slice(&((4 + 2 + doc.len() - 1) as i32).to_le_bytes());
    sections.extend_from_slice(b"d\0");
    sections.extend_from_slice(&doc);
    let err = Message::decode(&op_msg(0, &sections), MAX).unwrap_err();
    assert!(matches!(err, WireError::BadBson(_)), "{err}");
}

#[test]
fn too_many_sections() {
    let mut sections = body_section(&doc! {});
    for _ in 0..MAX_SECTIONS_PER_MESSAGE {
        sections.extend_from_slice(&[1, 6, 0, 0, 0, b'x', 0]);
    }
    let err = Message::decode(&op_msg(0, &sections), MAX).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::LimitExceeded {
                what: "sections",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn bad_bson() {
    let mut doc = doc_bytes(&doc! { "ping": 1 });
    doc[4] = 0x42; // unknown element type
    let mut sections = vec![0];
    sections.extend_from_slice(&doc);
    assert!(matches!(
        Message::decode(&op_msg(0, &sections), MAX),
        Err(WireError::BadBson(_))
    ));
    // Invalid UTF-8 in a string value is caught by the bson crate itself.
    let mut doc = doc_bytes(&doc! { "s": "ab" });
    let at = doc.len() - 3;
    doc[at] = 0xFF;
    let mut sections = vec![0];
    sections.extend_from_slice(&doc);
    assert!(matches!(
        Message::decode(&op_msg(0, &sections), MAX),
        Err(WireError::BadBson(_))
    ));
}

#[test]
fn checksum_mismatch() {
    let mut msg = insert();
    msg.flags = MsgFlags::CHECKSUM_PRESENT;
    let good = Message::Msg(msg).encode(1, 0);
    let last = good.len() - 1;
    for at in [last, 8, 30] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        assert!(
            matches!(Message::decode(&bad, MAX), Err(WireError::ChecksumMismatch)),
            "flipping byte {at}"
        );
    }
    // The flag without room for a checksum.
    let bytes = op_msg(1, &[]);
    assert!(matches!(
        Message::decode(&bytes, MAX),
        Err(WireError::Malformed(_))
    ));
}

#[test]
fn unencodable_messages_are_errors_not_panics() {
    let bad_key = Message::Msg(OpMsg::command(doc! { "a\0b": 1 }));
    assert!(matches!(
        bad_key.try_encode(1, 0),
        Err(WireError::EncodeBson(_))
    ));
    let bad_identifier = Message::Msg(OpMsg {
        sections: vec![
            Section::Body(doc! {}),
            Section::Sequence {
                identifier: "a\0".into(),
                documents: vec![],
            },
        ],
        ..OpMsg::command(doc! {})
    });
    assert!(matches!(
        bad_identifier.try_encode(1, 0),
        Err(WireError::Unencodable(_))
    ));
}

#[test]
fn encode_into_appends_the_same_bytes_as_try_encode() {
    // After existing bytes, the length and the checksum cover only the new message.
    let mut checked = insert();
    checked.flags = MsgFlags::CHECKSUM_PRESENT;
    for message in [ping(), Message::Msg(insert()), Message::Msg(checked)] {
        let alone = message.try_encode(9, 4).unwrap();
        let mut buf = b"earlier bytes".to_vec();
        message.encode_into(&mut buf, 9, 4).unwrap();
        assert_eq!(&buf[..13], b"earlier bytes");
        assert_eq!(&buf[13..], alone.as_slice());
        let (header, decoded) = Message::decode(&buf[13..], DEFAULT_MAX_MESSAGE_SIZE).unwrap();
        assert_eq!((header.request_id, header.response_to), (9, 4));
        assert_eq!(decoded.op_code(), message.op_code());
    }
}
