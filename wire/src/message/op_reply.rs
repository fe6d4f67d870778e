//! Legacy OP_REPLY (opcode 1): the answer to an OP_QUERY.
//!
//! Layout after the header: `responseFlags` (int32), `cursorID` (int64), `startingFrom`
//! (int32), `numberReturned` (int32), then exactly `numberReturned` documents.

use bson::Document;

use crate::codec::{put_i32, put_i64, Reader};
use crate::document::{read_document, write_document};
use crate::error::WireError;
use crate::message::op_msg::count_document;

/// An OP_REPLY message. `numberReturned` is not stored: it is `documents.len()`.
#[derive(Debug, Clone, PartialEq)]
pub struct OpReply {
    /// The response flags (bit 1 `QueryFailure`, bit 3 `AwaitCapable`, ...).
    pub response_flags: i32,
    /// The cursor id (0 for command replies).
    pub cursor_id: i64,
    /// The position of the first document in the cursor (0 for command replies).
    pub starting_from: i32,
    /// The documents (one for a command reply).
    pub documents: Vec<Document>,
}

impl OpReply {
    /// The reply to a command sent by OP_QUERY: no flags, no cursor, one document.
    pub fn command_reply(reply: Document) -> OpReply {
        OpReply {
            response_flags: 0,
            cursor_id: 0,
            starting_from: 0,
            documents: vec![reply],
        }
    }

    /// Decodes the bytes after the header.
    pub(crate) fn decode(bytes: &[u8]) -> Result<OpReply, WireError> {
        let mut r = Reader::new(bytes);
        let cut = || WireError::Malformed("OP_REPLY cut off");
        let response_flags = r.i32().ok_or_else(cut)?;
        let cursor_id = r.i64().ok_or_else(cut)?;
        let starting_from = r.i32().ok_or_else(cut)?;
        let number_returned = r.i32().ok_or_else(cut)?;
        let expected = usize::try_from(number_returned)
            .map_err(|_| WireError::Malformed("negative OP_REPLY numberReturned"))?;
        let mut documents = Vec::new();
        let mut count = 0;
        while !r.is_empty() {
            count_document(&mut count)?;
            documents.push(read_document(&mut r)?);
        }
        if documents.len() != expected {
            return Err(WireError::Malformed(
                "OP_REPLY numberReturned does not match its documents",
            ));
        }
        Ok(OpReply {
            response_flags,
            cursor_id,
            starting_from,
            documents,
        })
    }

    /// Appends the bytes after the header.
    pub(crate) fn encode_body(&self, buf: &mut Vec<u8>) -> Result<(), WireError> {
        let number_returned = i32::try_from(self.documents.len())
            .map_err(|_| WireError::Unencodable("more OP_REPLY documents than an int32 counts"))?;
        put_i32(buf, self.response_flags);
        put_i64(buf, self.cursor_id);
        put_i32(buf, self.starting_from);
        put_i32(buf, number_returned);
        self.documents
            .iter()
            .try_for_each(|doc| write_document(buf, doc))
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn number_returned_must_match() {
        let reply = OpReply::command_reply(doc! { "ok": 1 });
        let mut buf = Vec::new();
        reply.encode_body(&mut buf).unwrap();
        assert_eq!(OpReply::decode(&buf).unwrap(), reply);
        buf[16..20].copy_from_slice(&2_i32.to_le_bytes());
        assert!(matches!(
            OpReply::decode(&buf),
            Err(WireError::Malformed(_))
        ));
        buf[16..20].copy_from_slice(&(-1_i32).to_le_bytes());
        assert!(matches!(
            OpReply::decode(&buf),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            OpReply::decode(&buf[..10]),
            Err(WireError::Malformed(_))
        ));
    }
}
