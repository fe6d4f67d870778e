//! The 16-byte standard message header and the opcodes.

use crate::codec::{put_i32, Reader};
use crate::error::WireError;
use crate::limits::HEADER_LEN;

/// The standard header that starts every message (all fields little-endian `int32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Length of the whole message in bytes, header included.
    pub message_length: i32,
    /// The sender's id for this message.
    pub request_id: i32,
    /// The `request_id` this message answers (0 in requests).
    pub response_to: i32,
    /// The opcode; see [`OpCode`].
    pub op_code: i32,
}

impl Header {
    /// The header's size on the wire.
    pub const LEN: usize = HEADER_LEN;

    /// Reads the header at the start of `bytes`.
    ///
    /// # Errors
    /// [`WireError::ShortHeader`] if `bytes` has fewer than 16 bytes. The fields are not
    /// validated; see [`Header::length`].
    pub fn decode(bytes: &[u8]) -> Result<Header, WireError> {
        let mut r = Reader::new(
            bytes
                .get(..Self::LEN)
                .ok_or_else(|| WireError::ShortHeader)?,
        );
        // Four reads of four bytes from a slice of exactly sixteen cannot run out.
        let mut field = || r.i32().ok_or_else(|| WireError::ShortHeader);
        Ok(Header {
            message_length: field()?,
            request_id: field()?,
            response_to: field()?,
            op_code: field()?,
        })
    }

    /// Appends the header's 16 bytes.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        put_i32(buf, self.message_length);
        put_i32(buf, self.request_id);
        put_i32(buf, self.response_to);
        put_i32(buf, self.op_code);
    }

    /// `message_length` as a `usize` once it is checked to be at least the header and at
    /// most `max_message_size`.
    ///
    /// # Errors
    /// [`WireError::NegativeLength`], [`WireError::Undersized`] or [`WireError::Oversized`].
    pub fn length(&self, max_message_size: usize) -> Result<usize, WireError> {
        check_length(self.message_length, max_message_size)
    }
}

/// Checks a declared `messageLength` against the header size and `max_message_size`.
pub(crate) fn check_length(declared: i32, max_message_size: usize) -> Result<usize, WireError> {
    let length = usize::try_from(declared).map_err(|_| WireError::NegativeLength)?;
    if length < HEADER_LEN {
        return Err(WireError::Undersized(declared));
    }
    if length > max_message_size {
        return Err(WireError::Oversized {
            length,
            max: max_message_size,
        });
    }
    Ok(length)
}

/// The opcodes this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpCode {
    /// `OP_REPLY` (1): the legacy reply, sent only to answer an OP_QUERY.
    Reply,
    /// `OP_QUERY` (2004): the legacy query, still used for the Node driver's first hello.
    Query,
    /// `OP_COMPRESSED` (2012): recognised only to be refused.
    Compressed,
    /// `OP_MSG` (2013): every modern request and reply.
    Msg,
}

impl OpCode {
    /// The opcode's value on the wire.
    pub const fn raw(self) -> i32 {
        match self {
            OpCode::Reply => 1,
            OpCode::Query => 2004,
            OpCode::Compressed => 2012,
            OpCode::Msg => 2013,
        }
    }

    /// The opcode for a wire value, if this crate knows it.
    pub const fn from_raw(raw: i32) -> Option<OpCode> {
        match raw {
            1 => Some(OpCode::Reply),
            2004 => Some(OpCode::Query),
            2012 => Some(OpCode::Compressed),
            2013 => Some(OpCode::Msg),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let header = Header {
            message_length: 21,
            request_id: 7,
            response_to: -3,
            op_code: 2013,
        };
        let mut buf = Vec::new();
        header.encode(&mut buf);
        assert_eq!(buf.len(), Header::LEN);
        assert_eq!(Header::decode(&buf).unwrap(), header);
        assert!(matches!(
            Header::decode(&buf[..15]),
            Err(WireError::ShortHeader)
        ));
    }

    #[test]
    fn lengths_are_checked() {
        assert_eq!(check_length(16, 100).unwrap(), 16);
        assert!(matches!(
            check_length(-1, 100),
            Err(WireError::NegativeLength)
        ));
        assert!(matches!(
            check_length(15, 100),
            Err(WireError::Undersized(15))
        ));
        assert!(matches!(
            check_length(101, 100),
            Err(WireError::Oversized {
                length: 101,
                max: 100
            })
        ));
    }

    #[test]
    fn opcodes_round_trip() {
        for op in [
            OpCode::Reply,
            OpCode::Query,
            OpCode::Compressed,
            OpCode::Msg,
        ] {
            assert_eq!(OpCode::from_raw(op.raw()), Some(op));
        }
        assert_eq!(OpCode::from_raw(2010), None);
    }
}
