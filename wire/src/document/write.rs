//! The BSON writer: common element types written straight into the output buffer, the
//! rest left to the `bson` crate.

use bson::{Bson, Document};

use crate::error::WireError;

/// Appends `doc` in BSON.
///
/// The common element types are written straight into `buf` (the `bson` crate's
/// `to_writer` serializes into a buffer of its own through serde and then copies it). A
/// document holding a type written here only by the `bson` crate (binary, regular
/// expression, code with scope, DBPointer), or something BSON cannot carry (a key with a
/// NUL), is written by the `bson` crate instead, so the bytes and the errors are always
/// exactly the `bson` crate's.
pub(crate) fn write_document(buf: &mut Vec<u8>, doc: &Document) -> Result<(), WireError> {
    let start = buf.len();
    if encode_document(buf, doc).is_ok() {
        return Ok(());
    }
    buf.truncate(start);
    doc.to_writer(buf).map_err(WireError::EncodeBson)
}

/// A value [`encode_document`] leaves to the `bson` crate.
pub(super) struct Unhandled;

/// Appends `doc` (length prefix, elements, terminator), or gives up on the first element
/// it does not write itself; `buf` then holds a partial document for the caller to cut.
pub(super) fn encode_document(buf: &mut Vec<u8>, doc: &Document) -> Result<(), Unhandled> {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    for (key, value) in doc {
        encode_element(buf, key, value)?;
    }
    buf.push(0);
    patch_length(buf, start)
}

/// Appends an array as BSON does: a document whose keys are the indexes `"0"`, `"1"`, ...
fn encode_array(buf: &mut Vec<u8>, items: &[Bson]) -> Result<(), Unhandled> {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    let mut key = [0; INDEX_KEY_MAX];
    for (index, value) in items.iter().enumerate() {
        encode_element(buf, index_key(&mut key, index), value)?;
    }
    buf.push(0);
    patch_length(buf, start)
}

/// Appends one element: type byte, key, value.
fn encode_element(buf: &mut Vec<u8>, key: &str, value: &Bson) -> Result<(), Unhandled> {
    let element_type: u8 = match value {
        Bson::Double(_) => 0x01,
        Bson::String(_) => 0x02,
        Bson::Document(_) => 0x03,
        Bson::Array(_) => 0x04,
        Bson::Undefined => 0x06,
        Bson::ObjectId(_) => 0x07,
        Bson::Boolean(_) => 0x08,
        Bson::DateTime(_) => 0x09,
        Bson::Null => 0x0A,
        Bson::JavaScriptCode(_) => 0x0D,
        Bson::Symbol(_) => 0x0E,
        Bson::Int32(_) => 0x10,
        Bson::Timestamp(_) => 0x11,
        Bson::Int64(_) => 0x12,
        Bson::Decimal128(_) => 0x13,
        Bson::MaxKey => 0x7F,
        Bson::MinKey => 0xFF,
        Bson::Binary(_)
        | Bson::RegularExpression(_)
        | Bson::JavaScriptCodeWithScope(_)
        | Bson::DbPointer(_) => return Err(Unhandled),
    };
    if key.as_bytes().contains(&0) {
        return Err(Unhandled);
    }
    buf.push(element_type);
    buf.extend_from_slice(key.as_bytes());
    buf.push(0);
    match value {
        Bson::Double(d) => buf.extend_from_slice(&d.to_le_bytes()),
        Bson::String(s) | Bson::JavaScriptCode(s) | Bson::Symbol(s) => encode_string(buf, s)?,
        Bson::Document(d) => encode_document(buf, d)?,
        Bson::Array(items) => encode_array(buf, items)?,
        Bson::ObjectId(oid) => buf.extend_from_slice(&oid.bytes()),
        Bson::Boolean(b) => buf.push(u8::from(*b)),
        Bson::DateTime(dt) => buf.extend_from_slice(&dt.timestamp_millis().to_le_bytes()),
        Bson::Int32(i) => buf.extend_from_slice(&i.to_le_bytes()),
        Bson::Timestamp(ts) => {
            buf.extend_from_slice(&ts.increment.to_le_bytes());
            buf.extend_from_slice(&ts.time.to_le_bytes());
        }
        Bson::Int64(i) => buf.extend_from_slice(&i.to_le_bytes()),
        Bson::Decimal128(d) => buf.extend_from_slice(&d.bytes()),
        // No payload: undefined, null, min and max key. The rest returned above.
        _ => {}
    }
    Ok(())
}

/// Appends a BSON string: `int32` length counting the NUL, the bytes, the NUL.
fn encode_string(buf: &mut Vec<u8>, s: &str) -> Result<(), Unhandled> {
    let length = i32::try_from(s.len() + 1).map_err(|_| Unhandled)?;
    buf.extend_from_slice(&length.to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
    buf.push(0);
    Ok(())
}

/// Writes the length of the document that starts at `start` and runs to the end of `buf`.
fn patch_length(buf: &mut [u8], start: usize) -> Result<(), Unhandled> {
    let length = buf.len() - start;
    crate::codec::patch_i32_length(buf, start, length).map_err(|_| Unhandled)
}

/// Room for the decimal digits of any `usize`.
pub(super) const INDEX_KEY_MAX: usize = 20;

/// `index` in decimal, written into `scratch` (no allocation per array element).
pub(super) fn index_key(scratch: &mut [u8; INDEX_KEY_MAX], mut index: usize) -> &str {
    let mut at = scratch.len();
    loop {
        at -= 1;
        // `index % 10` is a single digit, so the cast is exact.
        scratch[at] = b'0' + (index % 10) as u8;
        index /= 10;
        if index == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&scratch[at..]).unwrap_or_default()
}
