//! BSON documents: framing checks and an iterative parser into [`bson::Document`].
//!
//! The `bson` crate's own parser recurses once per nesting level (about 16 KiB of stack
//! per level in a debug build) and reserves a buffer of the declared length before it
//! reads. So documents are parsed here instead, with an explicit stack: the declared length
//! is checked against the bytes at hand and [`MAX_BSON_DOCUMENT_SIZE`] first, every element
//! is read through a bounds-checked [`Reader`] confined to its container, and nesting is
//! bounded by [`MAX_BSON_DEPTH`]. The values are the `bson` crate's types, built the way its
//! own decoder builds them (duplicate keys: the last value wins; array keys are ignored).

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Decimal128, Document, JavaScriptCodeWithScope, Regex, Timestamp};

use crate::codec::Reader;
use crate::error::WireError;
use crate::limits::{MAX_BSON_DEPTH, MAX_BSON_DOCUMENT_SIZE, MIN_BSON_DOCUMENT_SIZE};

/// Reads one document from `r`, leaving `r` just after it.
pub(crate) fn read_document(r: &mut Reader<'_>) -> Result<Document, WireError> {
    parse(take_document(r)?)
}

/// Takes the bytes of one document from `r` after checking its declared length (the
/// values are not looked at).
pub(crate) fn take_document<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], WireError> {
    let declared = r
        .peek_i32()
        .ok_or_else(|| WireError::bad_bson("document length cut off"))?;
    let length = usize::try_from(declared)
        .ok()
        .filter(|l| (MIN_BSON_DOCUMENT_SIZE..=MAX_BSON_DOCUMENT_SIZE).contains(l))
        .ok_or_else(|| {
            WireError::bad_bson(format_args!(
                "document length {declared} outside {MIN_BSON_DOCUMENT_SIZE}..={MAX_BSON_DOCUMENT_SIZE}"
            ))
        })?;
    let remaining = r.remaining();
    r.take(length).ok_or_else(|| {
        WireError::bad_bson(format_args!(
            "document length {length} exceeds the {remaining} bytes left"
        ))
    })
}

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
struct Unhandled;

/// Appends `doc` (length prefix, elements, terminator), or gives up on the first element
/// it does not write itself; `buf` then holds a partial document for the caller to cut.
fn encode_document(buf: &mut Vec<u8>, doc: &Document) -> Result<(), Unhandled> {
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
const INDEX_KEY_MAX: usize = 20;

/// `index` in decimal, written into `scratch` (no allocation per array element).
fn index_key(scratch: &mut [u8; INDEX_KEY_MAX], mut index: usize) -> &str {
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

/// A container being filled while parsing.
enum Container {
    Document(Document),
    Array(Vec<Bson>),
    /// The scope of a code-with-scope value, with its code.
    Scope(String, Document),
}

impl Container {
    fn push(&mut self, key: String, value: Bson) {
        match self {
            Container::Document(doc) | Container::Scope(_, doc) => {
                doc.insert(key, value);
            }
            Container::Array(items) => items.push(value),
        }
    }

    fn finish(self) -> Bson {
        match self {
            Container::Document(doc) => Bson::Document(doc),
            Container::Array(items) => Bson::Array(items),
            Container::Scope(code, scope) => {
                Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope { code, scope })
            }
        }
    }
}

/// A nested container being parsed.
struct Frame {
    /// The index of the container's terminating NUL; its elements end before it.
    last: usize,
    /// The key the finished container takes in its parent.
    key: String,
    container: Container,
}

/// What one element turned out to be.
enum Step {
    /// A complete value, and the position after it.
    Value(Bson, usize),
    /// A nested container: the index of its terminator, the container, and the position
    /// of its first element.
    Open(usize, Container, usize),
}

/// Parses one whole document (`raw` is exactly its bytes, length prefix included).
fn parse(raw: &[u8]) -> Result<Document, WireError> {
    let mut root = Document::new();
    let root_last = raw.len().saturating_sub(1);
    // The open containers below the root, innermost last. Invariant: `pos` never passes
    // the innermost container's `last`, since every element is read from `raw[..last]`.
    let mut open: Vec<Frame> = Vec::new();
    let mut pos = 4;
    loop {
        let last = open.last().map_or(root_last, |frame| frame.last);
        let element_type = *raw
            .get(pos)
            .ok_or_else(|| WireError::bad_bson("document cut off"))?;
        if element_type == 0 {
            if pos != last {
                return Err(WireError::bad_bson(
                    "document terminator before its declared end",
                ));
            }
            pos += 1;
            let Some(done) = open.pop() else {
                debug_assert_eq!(pos, raw.len(), "the root ends with its bytes");
                return Ok(root);
            };
            insert(&mut open, &mut root, done.key, done.container.finish());
            continue;
        }
        let mut name = Reader::new(raw.get(pos + 1..last).unwrap_or_default());
        let key = name
            .cstring()
            .map_err(|_| WireError::bad_bson("element name is not a UTF-8 C-string"))?
            .to_owned();
        let start = last - name.remaining();
        match element(raw, element_type, start, last)? {
            Step::Value(value, next) => {
                insert(&mut open, &mut root, key, value);
                pos = next;
            }
            Step::Open(child_last, container, next) => {
                // The root is depth 1, so `open.len() + 1` is the depth of the innermost.
                if open.len() + 1 >= MAX_BSON_DEPTH {
                    return Err(WireError::LimitExceeded {
                        what: "levels of BSON nesting",
                        max: MAX_BSON_DEPTH,
                    });
                }
                open.push(Frame {
                    last: child_last,
                    key,
                    container,
                });
                pos = next;
            }
        }
    }
}

/// Adds a finished value to the innermost open container.
fn insert(open: &mut [Frame], root: &mut Document, key: String, value: Bson) {
    match open.last_mut() {
        Some(frame) => frame.container.push(key, value),
        None => {
            root.insert(key, value);
        }
    }
}

/// Reads the value of an element whose value starts at `start`; `last` is the index of
/// the enclosing container's terminator, which the value must not reach.
fn element(raw: &[u8], element_type: u8, start: usize, last: usize) -> Result<Step, WireError> {
    let mut v = Reader::new(raw.get(start..last).unwrap_or_default());
    let value = match element_type {
        0x01 => Bson::Double(f64::from_le_bytes(v.array().ok_or_else(overrun)?)),
        0x02 => Bson::String(string(&mut v)?),
        0x03 | 0x04 => {
            let size = container_size(&mut v, MIN_BSON_DOCUMENT_SIZE)?;
            let container = if element_type == 0x03 {
                Container::Document(Document::new())
            } else {
                Container::Array(Vec::new())
            };
            return Ok(Step::Open(start + size - 1, container, start + 4));
        }
        0x05 => binary(&mut v)?,
        0x06 => Bson::Undefined,
        0x07 => Bson::ObjectId(bson::oid::ObjectId::from_bytes(
            v.array().ok_or_else(overrun)?,
        )),
        0x08 => match v.u8() {
            Some(0) => Bson::Boolean(false),
            Some(1) => Bson::Boolean(true),
            _ => return Err(WireError::bad_bson("boolean byte is neither 0 nor 1")),
        },
        0x09 => Bson::DateTime(bson::DateTime::from_millis(v.i64().ok_or_else(overrun)?)),
        0x0A => Bson::Null,
        0x0B => {
            let bad = |_| WireError::bad_bson("regex pattern or options is not a UTF-8 C-string");
            let pattern = v.cstring().map_err(bad)?.to_owned();
            let options = v.cstring().map_err(bad)?.to_owned();
            Bson::RegularExpression(Regex { pattern, options })
        }
        0x0C => {
            string(&mut v)?;
            v.take(12).ok_or_else(overrun)?;
            db_pointer(raw.get(start..last - v.remaining()).unwrap_or_default())?
        }
        0x0D => Bson::JavaScriptCode(string(&mut v)?),
        0x0E => Bson::Symbol(string(&mut v)?),
        0x0F => {
            // int32 total length, the code string, the scope document.
            let total = container_size(&mut v, 4 + 5 + MIN_BSON_DOCUMENT_SIZE)?;
            let mut scope = Reader::new(raw.get(start + 4..start + total).unwrap_or_default());
            let code = string(&mut scope)?;
            let scope_size = usize::try_from(scope.peek_i32().unwrap_or(-1)).ok();
            if scope_size != Some(scope.remaining()) || scope.remaining() < MIN_BSON_DOCUMENT_SIZE {
                return Err(WireError::bad_bson("code-with-scope lengths disagree"));
            }
            let scope_start = start + total - scope.remaining();
            let container = Container::Scope(code, Document::new());
            return Ok(Step::Open(start + total - 1, container, scope_start + 4));
        }
        0x10 => Bson::Int32(v.i32().ok_or_else(overrun)?),
        0x11 => {
            let increment = v.u32().ok_or_else(overrun)?;
            let time = v.u32().ok_or_else(overrun)?;
            Bson::Timestamp(Timestamp { time, increment })
        }
        0x12 => Bson::Int64(v.i64().ok_or_else(overrun)?),
        0x13 => Bson::Decimal128(Decimal128::from_bytes(v.array().ok_or_else(overrun)?)),
        0x7F => Bson::MaxKey,
        0xFF => Bson::MinKey,
        other => {
            return Err(WireError::bad_bson(format_args!(
                "unknown element type {other:#04x}"
            )))
        }
    };
    Ok(Step::Value(value, last - v.remaining()))
}

/// Reads an `int32` size that counts itself, at least `min`, and checks that the whole
/// value fits in `v` (consuming it). Returns the size.
fn container_size(v: &mut Reader<'_>, min: usize) -> Result<usize, WireError> {
    let size = v
        .i32()
        .and_then(|size| usize::try_from(size).ok())
        .filter(|&size| size >= min)
        .ok_or_else(|| WireError::bad_bson("embedded length too small"))?;
    v.take(size - 4).ok_or_else(overrun)?;
    Ok(size)
}

/// An `int32` length (counting the NUL), UTF-8 bytes, NUL.
fn string(v: &mut Reader<'_>) -> Result<String, WireError> {
    let size = v
        .i32()
        .and_then(|size| usize::try_from(size).ok())
        .filter(|&size| size >= 1)
        .ok_or_else(|| WireError::bad_bson("string length below 1"))?;
    let bytes = v.take(size).ok_or_else(overrun)?;
    let (text, nul) = bytes.split_at(size - 1);
    if nul != [0] {
        return Err(WireError::bad_bson("string without its terminating NUL"));
    }
    String::from_utf8(text.to_vec()).map_err(|_| WireError::bad_bson("string is not UTF-8"))
}

/// An `int32` length, a subtype byte, the bytes (for the old subtype 2, an inner `int32`
/// length first, which must agree; the `bson` crate strips and re-adds it).
fn binary(v: &mut Reader<'_>) -> Result<Bson, WireError> {
    let size = v
        .i32()
        .and_then(|size| usize::try_from(size).ok())
        .ok_or_else(|| WireError::bad_bson("negative binary length"))?;
    let subtype = BinarySubtype::from(v.u8().ok_or_else(overrun)?);
    let mut bytes = Reader::new(v.take(size).ok_or_else(overrun)?);
    if matches!(subtype, BinarySubtype::BinaryOld) {
        let inner = bytes.i32().and_then(|inner| usize::try_from(inner).ok());
        if inner != Some(bytes.remaining()) {
            return Err(WireError::bad_bson(
                "old binary subtype with a wrong inner length",
            ));
        }
    }
    let bytes = bytes.take(bytes.remaining()).unwrap_or_default().to_vec();
    Ok(Bson::Binary(Binary { subtype, bytes }))
}

/// A DBPointer value (deprecated; its type cannot be built outside the `bson` crate, so
/// the crate parses it from a one-element document).
fn db_pointer(value: &[u8]) -> Result<Bson, WireError> {
    let mut single = Vec::with_capacity(value.len() + 7);
    crate::codec::put_i32(&mut single, 0);
    single.extend_from_slice(&[0x0C, 0]);
    single.extend_from_slice(value);
    single.push(0);
    let length = single.len();
    crate::codec::patch_i32_length(&mut single, 0, length)?;
    let mut doc = Document::from_reader(single.as_slice()).map_err(WireError::BadBson)?;
    doc.remove("")
        .ok_or_else(|| WireError::bad_bson("DBPointer did not parse"))
}

fn overrun() -> WireError {
    WireError::bad_bson("element overruns its document")
}

#[cfg(test)]
mod tests {
    use bson::{doc, Bson};

    use super::*;

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
            single(0x05, &[4, 0, 0, 0, 2, 0, 0, 0, 0]), // old binary, inner length 0
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
}
