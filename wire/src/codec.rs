//! Little-endian primitives: a borrowing [`Reader`] cursor and write helpers.
//!
//! Every read returns `None` when the bytes run out; callers turn that into the error that
//! names what was being read. Nothing here indexes a slice unchecked.

use crate::error::WireError;

/// A cursor over a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    /// The bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// True when every byte was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.bytes.len() {
            return None;
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Some(head)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    /// A little-endian `int32`.
    pub(crate) fn i32(&mut self) -> Option<i32> {
        self.array().map(i32::from_le_bytes)
    }

    /// A little-endian `uint32`.
    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    /// A little-endian `int64`.
    pub(crate) fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_le_bytes)
    }

    /// The next `int32` without consuming it.
    pub(crate) fn peek_i32(&self) -> Option<i32> {
        self.clone().i32()
    }

    /// A NUL-terminated UTF-8 string (the NUL is consumed, not returned).
    pub(crate) fn cstring(&mut self) -> Result<&'a str, WireError> {
        let nul = self
            .bytes
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| WireError::Malformed("C-string without its terminating NUL"))?;
        let text = self.take(nul).unwrap_or_default();
        self.take(1); // the NUL, present by the search above
        std::str::from_utf8(text).map_err(|_| WireError::Malformed("C-string is not UTF-8"))
    }
}

/// Appends a little-endian `int32`.
pub(crate) fn put_i32(buf: &mut Vec<u8>, value: i32) {
    buf.extend_from_slice(&value.to_le_bytes());
}

/// Appends a little-endian `uint32`.
pub(crate) fn put_u32(buf: &mut Vec<u8>, value: u32) {
    buf.extend_from_slice(&value.to_le_bytes());
}

/// Appends a little-endian `int64`.
pub(crate) fn put_i64(buf: &mut Vec<u8>, value: i64) {
    buf.extend_from_slice(&value.to_le_bytes());
}

/// Appends `text` and a NUL; a NUL inside `text` cannot be represented.
pub(crate) fn put_cstring(
    buf: &mut Vec<u8>,
    text: &str,
    what: &'static str,
) -> Result<(), WireError> {
    if text.contains('\0') {
        return Err(WireError::Unencodable(what));
    }
    buf.extend_from_slice(text.as_bytes());
    buf.push(0);
    Ok(())
}

/// Runs `body`, which appends to `buf`, behind an `int32` length prefix that counts itself
/// and is patched once `body` is done (the shape of OP_MSG kind-1 sections).
pub(crate) fn length_prefixed(
    buf: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), WireError>,
) -> Result<(), WireError> {
    let start = buf.len();
    put_i32(buf, 0);
    body(buf)?;
    let length = buf.len() - start;
    patch_i32_length(buf, start, length)
}

/// Writes `length` as an `int32` at `buf[at..at + 4]`.
pub(crate) fn patch_i32_length(buf: &mut [u8], at: usize, length: usize) -> Result<(), WireError> {
    let value = i32::try_from(length).map_err(|_| WireError::Oversized {
        length,
        max: i32::MAX as usize,
    })?;
    let slot = buf
        .get_mut(at..at + 4)
        .ok_or_else(|| WireError::Unencodable("length slot outside the buffer"))?;
    slot.copy_from_slice(&value.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_stops_at_the_end_instead_of_panicking() {
        let mut r = Reader::new(&[1, 0, 0]);
        assert_eq!(r.i32(), None);
        assert_eq!(r.remaining(), 3, "a failed read consumes nothing");
        assert_eq!(r.u8(), Some(1));
        assert_eq!(r.take(3), None);
        assert_eq!(r.take(2), Some(&[0u8, 0][..]));
        assert!(r.is_empty());
    }

    #[test]
    fn cstring_needs_its_nul_and_utf8() {
        assert_eq!(
            Reader::new(b"admin.$cmd\0x").cstring().ok(),
            Some("admin.$cmd")
        );
        assert!(matches!(
            Reader::new(b"abc").cstring(),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            Reader::new(b"\xff\0").cstring(),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn length_prefix_counts_itself() {
        let mut buf = vec![9];
        length_prefixed(&mut buf, |b| {
            b.extend_from_slice(b"abc");
            Ok(())
        })
        .unwrap();
        assert_eq!(buf, [9, 7, 0, 0, 0, b'a', b'b', b'c']);
    }

    #[test]
    fn put_cstring_rejects_interior_nul() {
        let mut buf = Vec::new();
        assert!(put_cstring(&mut buf, "a\0b", "test").is_err());
        put_cstring(&mut buf, "ab", "test").unwrap();
        assert_eq!(buf, b"ab\0");
    }
}
