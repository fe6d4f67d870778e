//! An iterative BSON parser into [`bson::Document`].
//!
//! The `bson` crate's own parser recurses once per nesting level (about 16 KiB of stack
//! per level in a debug build) and reserves a buffer of the declared length before it
//! reads. So documents are parsed here instead, with an explicit stack: every element is
//! read through a bounds-checked [`Reader`] confined to its container, and nesting is
//! bounded by [`MAX_BSON_DEPTH`]. The values are the `bson` crate's types, built the way its
//! own decoder builds them (duplicate keys: the last value wins; array keys are ignored).

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Decimal128, Document, JavaScriptCodeWithScope, Regex, Timestamp};

use crate::codec::Reader;
use crate::error::WireError;
use crate::limits::{MAX_BSON_DEPTH, MIN_BSON_DOCUMENT_SIZE};

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
pub(super) fn parse(raw: &[u8]) -> Result<Document, WireError> {
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
        0x0F => return code_with_scope(raw, &mut v, start),
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

/// A code-with-scope value starting at `start` (`v` reads from there): `int32` total
/// length, the code string, the scope document, which is opened as a nested container.
fn code_with_scope(raw: &[u8], v: &mut Reader<'_>, start: usize) -> Result<Step, WireError> {
    let total = container_size(v, 4 + 5 + MIN_BSON_DOCUMENT_SIZE)?;
    let mut scope = Reader::new(raw.get(start + 4..start + total).unwrap_or_default());
    let code = string(&mut scope)?;
    let scope_size = usize::try_from(scope.peek_i32().unwrap_or(-1)).ok();
    if scope_size != Some(scope.remaining()) || scope.remaining() < MIN_BSON_DOCUMENT_SIZE {
        return Err(WireError::bad_bson("code-with-scope lengths disagree"));
    }
    let scope_start = start + total - scope.remaining();
    let container = Container::Scope(code, Document::new());
    Ok(Step::Open(start + total - 1, container, scope_start + 4))
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
