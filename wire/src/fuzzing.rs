//! Entry points for the fuzz targets and the property tests (not a stable API; compiled
//! only with the `fuzzing` feature).
//!
//! [`decode_roundtrip`] is differential in two ways: the decoder against the encoder, and
//! the decoder against a second, minimal walk of the same bytes that only locates the BSON
//! documents.

use bson::Document;

use crate::codec::Reader;
use crate::document::take_document;
use crate::error::WireError;
use crate::limits::DEFAULT_MAX_MESSAGE_SIZE;
use crate::message::{Header, Message, MsgFlags, OpCode};

/// The `wire_decode` fuzz target: arbitrary bytes into the wire decoder (OP_MSG,
/// OP_QUERY, OP_REPLY and the BSON documents inside them).
///
/// - [`decode_roundtrip`]: never a panic; whatever decodes re-encodes to the same bytes
///   (or, for non-canonical BSON the `bson` crate normalises, encoding is a fixed point
///   after one normalisation).
/// - [`document_differential`]: the same bytes as one BSON document, parsed by the
///   crate's own reader and by the `bson` crate; both accept the same value or both
///   refuse.
///
/// "No allocation driven by an unchecked length" is enforced by libFuzzer's
/// `-malloc_limit_mb` (`ci/fuzz.sh` passes 64: inputs are at most a few KiB, so any
/// bigger allocation was sized by a length field rather than by the bytes at hand).
///
/// # Panics
/// When one of the two checks fails.
pub fn wire_decode(data: &[u8]) {
    decode_roundtrip(data);
    document_differential(data);
}

/// Decodes arbitrary bytes; whatever decodes must re-encode to the same bytes.
///
/// Never panics on a bad input (that is the point); panics only when an invariant breaks:
/// - A decoded message always encodes.
/// - If every BSON document in `data` is in canonical form, re-encoding gives back `data`
///   byte for byte (header ids, flag bits, section order and the checksum included).
/// - Otherwise the `bson` crate normalised a document while parsing it: it keeps the last
///   of duplicate keys, renumbers array keys to `"0"`, `"1"`, ..., and sorts regex
///   options. Those bytes cannot come back, so the check is that decoding the re-encoded
///   bytes and encoding again is the identity: `encode(decode(encode(decode(x)))) ==
///   encode(decode(x))`. Bytes are compared, not `Document`s, because a NaN double is
///   unequal to itself.
///
/// # Panics
/// When one of the invariants above breaks.
pub fn decode_roundtrip(data: &[u8]) {
    let Ok((header, message)) = Message::decode(data, DEFAULT_MAX_MESSAGE_SIZE) else {
        return;
    };
    let encoded = match message.try_encode(header.request_id, header.response_to) {
        Ok(bytes) => bytes,
        Err(err) => panic!("a decoded message failed to encode: {err}"),
    };
    if documents_are_canonical(data) {
        assert_eq!(
            encoded, data,
            "canonical input must re-encode byte for byte"
        );
        return;
    }
    // Normalisation can lengthen a document (longer array keys), so no size limit here.
    let (again_header, again) = match Message::decode(&encoded, usize::MAX) {
        Ok(decoded) => decoded,
        Err(err) => panic!("a re-encoded message failed to decode: {err}"),
    };
    assert_eq!(again_header.request_id, header.request_id);
    assert_eq!(again_header.response_to, header.response_to);
    assert_eq!(again_header.op_code, header.op_code);
    assert_eq!(
        again.encode(header.request_id, header.response_to),
        encoded,
        "encoding is a fixed point after one normalisation"
    );
}

/// Parses the BSON document at the start of `data` with this crate's parser and with the
/// `bson` crate's, and checks that they agree: both accept with the same value, or both
/// refuse. (Bytes after the document's declared length are ignored by both.)
///
/// # Panics
/// When the two parsers disagree.
pub fn document_differential(data: &[u8]) {
    let ours = crate::document::read_document(&mut Reader::new(data));
    if matches!(ours, Err(WireError::LimitExceeded { .. })) {
        return; // Too deep for the `bson` crate's recursive parser to be run safely.
    }
    // Both parse the first document only: its declared length bounds it.
    let Ok(raw) = take_document(&mut Reader::new(data)) else {
        return; // Framing refused before any value was read.
    };
    let theirs = bson_parse(raw);
    match (&ours, &theirs) {
        (Ok(ours), Ok(theirs)) => assert_eq!(
            bson::to_vec(ours).ok(),
            bson::to_vec(theirs).ok(),
            "both parsers accept but build different documents"
        ),
        (Err(_), Err(_)) => {}
        _ => panic!("the parsers disagree: ours {ours:?}, bson {theirs:?}"),
    }
}

/// The `bson` crate's parse of one document, element by element (`RawDocument`).
///
/// Not `Document::from_reader`: that goes through serde, whose `Bson` visitor reads a
/// document whose first key is an extended-JSON marker (`$minKey`, `$oid`,
/// `$numberLong`, ...) as that type, so `{"$minKey": null}`, a valid document, is refused
/// and `{"$numberLong": "5"}` turns into an `Int64`. BSON gives such keys no meaning.
fn bson_parse(data: &[u8]) -> Result<Document, bson::raw::Error> {
    Document::try_from(bson::RawDocument::from_bytes(data)?)
}

/// True if every BSON document in the (already decoded) message `data` re-serialises to
/// its own bytes.
///
/// # Panics
/// If this walk cannot find the documents of a message the decoder accepted.
fn documents_are_canonical(data: &[u8]) -> bool {
    documents(data)
        .unwrap_or_else(|| panic!("the document walk disagrees with the decoder"))
        .into_iter()
        .all(|raw| {
            let reencoded = bson_parse(raw).ok().and_then(|doc| bson::to_vec(&doc).ok());
            reencoded.as_deref() == Some(raw)
        })
}

/// The raw documents of a well-formed message, located from the layout alone.
fn documents(data: &[u8]) -> Option<Vec<&[u8]>> {
    let header = Header::decode(data).ok()?;
    let mut r = Reader::new(data.get(Header::LEN..)?);
    let mut docs = Vec::new();
    match OpCode::from_raw(header.op_code)? {
        OpCode::Msg => {
            let flags = MsgFlags::from_bits(r.u32()?).ok()?;
            let trailer = if flags.contains(MsgFlags::CHECKSUM_PRESENT) {
                4
            } else {
                0
            };
            let mut sections = Reader::new(r.take(r.remaining().checked_sub(trailer)?)?);
            while !sections.is_empty() {
                match sections.u8()? {
                    0 => docs.push(take_document(&mut sections).ok()?),
                    1 => {
                        let size = usize::try_from(sections.i32()?).ok()?;
                        let mut sequence = Reader::new(sections.take(size.checked_sub(4)?)?);
                        sequence.cstring().ok()?;
                        while !sequence.is_empty() {
                            docs.push(take_document(&mut sequence).ok()?);
                        }
                    }
                    _ => return None,
                }
            }
        }
        OpCode::Query => {
            r.i32()?;
            r.cstring().ok()?;
            r.take(8)?;
            while !r.is_empty() {
                docs.push(take_document(&mut r).ok()?);
            }
        }
        OpCode::Reply => {
            r.take(20)?;
            while !r.is_empty() {
                docs.push(take_document(&mut r).ok()?);
            }
        }
        OpCode::Compressed => return None,
    }
    Some(docs)
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::message::{OpMsg, OpReply, Section};

    #[test]
    fn canonical_messages_come_back_byte_for_byte() {
        let msg = OpMsg {
            flags: MsgFlags::CHECKSUM_PRESENT | MsgFlags::EXHAUST_ALLOWED,
            sections: vec![
                Section::Sequence {
                    identifier: "documents".into(),
                    documents: vec![doc! { "a": 1 }],
                },
                Section::Body(doc! { "insert": "c", "$db": "d" }),
            ],
            checksum: None,
        };
        let bytes = Message::Msg(msg).encode(5, 9);
        assert!(documents_are_canonical(&bytes));
        decode_roundtrip(&bytes);
        decode_roundtrip(&Message::Reply(OpReply::command_reply(doc! { "ok": 1 })).encode(1, 2));
    }

    #[test]
    fn duplicate_keys_are_normalised_once() {
        // {a: 1, a: 2} cannot come back: bson keeps one `a`.
        let doc: &[u8] = &[
            19, 0, 0, 0, 0x10, b'a', 0, 1, 0, 0, 0, 0x10, b'a', 0, 2, 0, 0, 0, 0,
        ];
        let mut bytes = Message::Msg(OpMsg::command(doc! {})).encode(1, 0);
        bytes.truncate(bytes.len() - 5);
        bytes.extend_from_slice(doc);
        let length = bytes.len() as i32;
        bytes[..4].copy_from_slice(&length.to_le_bytes());
        assert!(Message::decode(&bytes, DEFAULT_MAX_MESSAGE_SIZE).is_ok());
        assert!(!documents_are_canonical(&bytes));
        decode_roundtrip(&bytes);
    }

    #[test]
    fn garbage_is_ignored() {
        decode_roundtrip(&[]);
        decode_roundtrip(&[0xFF; 64]);
    }
}
