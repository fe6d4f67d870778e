//! Goal: no input panics the decoder, valid messages round-trip, and this crate's BSON
//! parser agrees with the `bson` crate's.
//! Method: proptest over raw bytes, over mutations of valid messages, and over generated
//! messages; the checks themselves are the `wire::fuzzing` entry points the fuzz targets use.

use bson::{Bson, Document};
use proptest::prelude::*;
use wire::fuzzing::{decode_roundtrip, document_differential};
use wire::{Message, MsgFlags, OpMsg, OpQuery, OpReply, Section, DEFAULT_MAX_MESSAGE_SIZE};

/// 512 cases per property unless `PROPTEST_CASES` says otherwise (for longer local runs).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(512)
}

fn scalar() -> impl Strategy<Value = Bson> {
    prop_oneof![
        any::<i32>().prop_map(Bson::Int32),
        any::<i64>().prop_map(Bson::Int64),
        any::<f64>().prop_map(Bson::Double),
        any::<bool>().prop_map(Bson::Boolean),
        "[a-zA-Z0-9 é$.]{0,12}".prop_map(Bson::String),
        Just(Bson::Null),
        any::<i64>().prop_map(|ms| Bson::DateTime(bson::DateTime::from_millis(ms))),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..8)).prop_map(|(subtype, bytes)| {
            Bson::Binary(bson::Binary {
                subtype: subtype.into(),
                bytes,
            })
        }),
        ("[a-z^$.*]{0,6}", "[imsx]{0,3}").prop_map(|(pattern, options)| {
            Bson::RegularExpression(bson::Regex { pattern, options })
        }),
        (any::<u32>(), any::<u32>())
            .prop_map(|(time, increment)| Bson::Timestamp(bson::Timestamp { time, increment })),
        any::<[u8; 12]>().prop_map(|b| Bson::ObjectId(bson::oid::ObjectId::from_bytes(b))),
        any::<[u8; 16]>().prop_map(|b| Bson::Decimal128(bson::Decimal128::from_bytes(b))),
        "[a-z()]{0,6}".prop_map(Bson::JavaScriptCode),
        "[a-z]{0,6}".prop_map(Bson::Symbol),
        Just(Bson::Undefined),
        Just(Bson::MinKey),
        Just(Bson::MaxKey),
    ]
}

fn value() -> impl Strategy<Value = Bson> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
            proptest::collection::vec(("[a-z$_]{1,6}", inner.clone()), 0..4)
                .prop_map(|fields| Bson::Document(fields.into_iter().collect())),
            (
                "[a-z()]{0,6}",
                proptest::collection::vec(("[a-z]{1,4}", inner), 0..3)
            )
                .prop_map(|(code, scope)| {
                    Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope {
                        code,
                        scope: scope.into_iter().collect(),
                    })
                }),
        ]
    })
}

fn document() -> impl Strategy<Value = Document> {
    proptest::collection::vec(("[a-zA-Z$_]{1,8}", value()), 0..5)
        .prop_map(|fields| fields.into_iter().collect())
}

fn op_msg() -> impl Strategy<Value = OpMsg> {
    let flags = (any::<bool>(), any::<bool>(), any::<bool>(), 0u32..(1 << 15)).prop_map(
        |(c, m, e, optional)| {
            let mut bits = optional << 17;
            bits |= u32::from(c) | u32::from(m) << 1 | u32::from(e) << 16;
            MsgFlags::from_bits(bits).unwrap()
        },
    );
    let sequence = ("[a-z]{1,10}", proptest::collection::vec(document(), 0..4)).prop_map(
        |(identifier, documents)| Section::Sequence {
            identifier,
            documents,
        },
    );
    (
        flags,
        document(),
        proptest::collection::vec(sequence, 0..3),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(flags, body, mut sections, at)| {
            let position = at.index(sections.len() + 1);
            sections.insert(position, Section::Body(body));
            OpMsg {
                flags,
                sections,
                checksum: None,
            }
        })
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        4 => op_msg().prop_map(Message::Msg),
        1 => (any::<i32>(), "[a-z]{1,5}\\.[a-z$]{1,5}", any::<i32>(), any::<i32>(), document(), proptest::option::of(document()))
            .prop_map(|(flags, full_collection_name, number_to_skip, number_to_return, query, return_fields_selector)| {
                Message::Query(OpQuery { flags, full_collection_name, number_to_skip, number_to_return, query, return_fields_selector })
            }),
        1 => (any::<i32>(), any::<i64>(), any::<i32>(), proptest::collection::vec(document(), 0..3))
            .prop_map(|(response_flags, cursor_id, starting_from, documents)| {
                Message::Reply(OpReply { response_flags, cursor_id, starting_from, documents })
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_roundtrip(&data);
        document_differential(&data);
    }

    #[test]
    fn random_bodies_behind_a_valid_header_never_panic(
        op_code in prop_oneof![Just(1), Just(2004), Just(2012), Just(2013), any::<i32>()],
        flags in prop_oneof![Just(0u32), Just(1), Just(2), Just(1 << 16), any::<u32>()],
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&((20 + body.len()) as i32).to_le_bytes());
        bytes.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&op_code.to_le_bytes());
        bytes.extend_from_slice(&flags.to_le_bytes());
        bytes.extend_from_slice(&body);
        decode_roundtrip(&bytes);
    }

    #[test]
    fn valid_messages_round_trip(message in message(), request_id in any::<i32>(), response_to in any::<i32>()) {
        let bytes = message.encode(request_id, response_to);
        let (header, decoded) = Message::decode(&bytes, DEFAULT_MAX_MESSAGE_SIZE).unwrap();
        prop_assert_eq!(header.request_id, request_id);
        prop_assert_eq!(header.response_to, response_to);
        prop_assert_eq!(header.message_length as usize, bytes.len());
        // Bytes, not values: a NaN double is unequal to itself.
        prop_assert_eq!(decoded.encode(request_id, response_to), bytes.clone());
        decode_roundtrip(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(
        message in message(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = message.encode(1, 0);
        for (at, byte) in edits {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        decode_roundtrip(&bytes);
    }

    #[test]
    fn document_parsers_agree(doc in document(), edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3)) {
        let mut bytes = bson::to_vec(&doc).unwrap();
        for (at, byte) in edits {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        document_differential(&bytes);
    }
}
