//! Whole messages: the [`Message`] enum, its encoder and its decoder.
//!
//! - [`header`]: the 16-byte [`Header`] and [`OpCode`].
//! - [`op_msg`]: [`OpMsg`], its [`Section`]s and [`MsgFlags`].
//! - [`op_query`] / [`op_reply`]: the legacy pair used by the first `isMaster`.
//!
//! OP_COMPRESSED is recognised only to be refused with
//! [`WireError::CompressionUnsupported`]: a server that never lists a compressor in its
//! hello reply is never sent one.

pub mod header;
pub mod op_msg;
pub mod op_query;
pub mod op_reply;

pub use header::{Header, OpCode};
pub use op_msg::{MsgFlags, OpMsg, Section};
pub use op_query::OpQuery;
pub use op_reply::OpReply;

use crate::error::WireError;

/// One message of a kind this crate speaks.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// OP_MSG.
    Msg(OpMsg),
    /// Legacy OP_QUERY.
    Query(OpQuery),
    /// Legacy OP_REPLY.
    Reply(OpReply),
}

impl Message {
    /// The message's opcode.
    pub fn op_code(&self) -> OpCode {
        match self {
            Message::Msg(_) => OpCode::Msg,
            Message::Query(_) => OpCode::Query,
            Message::Reply(_) => OpCode::Reply,
        }
    }

    /// Encodes the whole message, header included.
    ///
    /// # Panics
    /// If the message cannot be represented on the wire: a document key or identifier
    /// with a NUL byte, or more than `i32::MAX` bytes. A message that came from
    /// [`Message::decode`] never panics. Use [`Message::try_encode`] for messages built
    /// from untrusted input.
    pub fn encode(&self, request_id: i32, response_to: i32) -> Vec<u8> {
        match self.try_encode(request_id, response_to) {
            Ok(bytes) => bytes,
            Err(err) => panic!("Message::encode: {err} (use try_encode for untrusted content)"),
        }
    }

    /// Encodes the whole message, header included. With [`MsgFlags::CHECKSUM_PRESENT`]
    /// set, the CRC-32C is computed and appended.
    ///
    /// # Errors
    /// [`WireError::EncodeBson`] or [`WireError::Unencodable`] for content that BSON or
    /// the wire format cannot carry, [`WireError::Oversized`] past `i32::MAX` bytes.
    pub fn try_encode(&self, request_id: i32, response_to: i32) -> Result<Vec<u8>, WireError> {
        let mut buf = Vec::with_capacity(256);
        self.encode_into(&mut buf, request_id, response_to)?;
        Ok(buf)
    }

    /// Encodes the whole message, header included, appending it to `buf`: as
    /// [`Message::try_encode`], into a buffer the caller keeps and reuses (a connection
    /// that encodes every request into the same buffer allocates nothing per message).
    ///
    /// # Errors
    /// As [`Message::try_encode`]; `buf` may then hold part of the message after what it
    /// held before.
    pub fn encode_into(
        &self,
        buf: &mut Vec<u8>,
        request_id: i32,
        response_to: i32,
    ) -> Result<(), WireError> {
        let start = buf.len();
        Header {
            message_length: 0, // patched below, once the length is known
            request_id,
            response_to,
            op_code: self.op_code().raw(),
        }
        .encode(buf);
        match self {
            Message::Msg(msg) => msg.encode_body(buf)?,
            Message::Query(query) => query.encode_body(buf)?,
            Message::Reply(reply) => reply.encode_body(buf)?,
        }
        let checksum =
            matches!(self, Message::Msg(msg) if msg.flags.contains(MsgFlags::CHECKSUM_PRESENT));
        let length = buf.len() - start + if checksum { 4 } else { 0 };
        crate::codec::patch_i32_length(buf, start, length)?;
        if checksum {
            let crc = crate::checksum::crc32c(&buf[start..]);
            crate::codec::put_u32(buf, crc);
        }
        debug_assert_eq!(buf.len() - start, length, "messageLength counts every byte");
        Ok(())
    }

    /// Decodes one whole message: `bytes` must hold exactly `messageLength` bytes.
    ///
    /// # Errors
    /// A [`WireError`] naming the first problem found. The checks run in wire order:
    /// header and length (against `bytes` and `max_message_size`) first, then the opcode,
    /// then the body.
    pub fn decode(bytes: &[u8], max_message_size: usize) -> Result<(Header, Message), WireError> {
        let header = Header::decode(bytes)?;
        let length = header.length(max_message_size)?;
        if bytes.len() < length {
            return Err(WireError::Truncated {
                expected: length,
                got: bytes.len(),
            });
        }
        if bytes.len() > length {
            return Err(WireError::LengthMismatch {
                declared: length,
                actual: bytes.len(),
            });
        }
        let body = bytes.get(Header::LEN..).unwrap_or_default();
        let message = match OpCode::from_raw(header.op_code) {
            Some(OpCode::Msg) => Message::Msg(OpMsg::decode(bytes)?),
            Some(OpCode::Query) => Message::Query(OpQuery::decode(body)?),
            Some(OpCode::Reply) => Message::Reply(OpReply::decode(body)?),
            Some(OpCode::Compressed) => return Err(WireError::CompressionUnsupported),
            None => return Err(WireError::UnknownOpCode(header.op_code)),
        };
        Ok((header, message))
    }
}

impl From<OpMsg> for Message {
    fn from(msg: OpMsg) -> Message {
        Message::Msg(msg)
    }
}

impl From<OpQuery> for Message {
    fn from(query: OpQuery) -> Message {
        Message::Query(query)
    }
}

impl From<OpReply> for Message {
    fn from(reply: OpReply) -> Message {
        Message::Reply(reply)
    }
}

#[cfg(test)]
mod tests;
