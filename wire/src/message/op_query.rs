//! Legacy OP_QUERY (opcode 2004), only as far as the legacy `isMaster` handshake needs.
//!
//! Layout after the header: `flags` (int32), `fullCollectionName` (C-string),
//! `numberToSkip` (int32), `numberToReturn` (int32), the query document, and an optional
//! `returnFieldsSelector` document. Nothing may follow.

use bson::Document;

use crate::codec::{put_cstring, put_i32, Reader};
use crate::document::{read_document, write_document};
use crate::error::WireError;

/// An OP_QUERY message.
#[derive(Debug, Clone, PartialEq)]
pub struct OpQuery {
    /// The query flags (all legacy; kept as they came).
    pub flags: i32,
    /// `db.collection`; commands go to `db.$cmd` (the handshake uses `admin.$cmd`).
    pub full_collection_name: String,
    /// Documents to skip.
    pub number_to_skip: i32,
    /// Documents to return (commands send -1 or 1).
    pub number_to_return: i32,
    /// The query, or for commands the command document (possibly wrapped as `{$query: ...}`).
    pub query: Document,
    /// The optional projection.
    pub return_fields_selector: Option<Document>,
}

impl OpQuery {
    /// The database part of `full_collection_name` (before the first `.`).
    pub fn database(&self) -> &str {
        self.full_collection_name
            .split_once('.')
            .map_or(self.full_collection_name.as_str(), |(db, _)| db)
    }

    /// The command document: `query`, unwrapped from `{$query: {...}}` if wrapped.
    pub fn command(&self) -> &Document {
        match self.query.get_document("$query") {
            Ok(inner) => inner,
            Err(_) => &self.query,
        }
    }

    /// Decodes the bytes after the header.
    pub(crate) fn decode(bytes: &[u8]) -> Result<OpQuery, WireError> {
        let mut r = Reader::new(bytes);
        let cut = || WireError::Malformed("OP_QUERY cut off");
        let flags = r.i32().ok_or_else(cut)?;
        let full_collection_name = r.cstring()?.to_owned();
        let number_to_skip = r.i32().ok_or_else(cut)?;
        let number_to_return = r.i32().ok_or_else(cut)?;
        let query = read_document(&mut r)?;
        let return_fields_selector = if r.is_empty() {
            None
        } else {
            Some(read_document(&mut r)?)
        };
        if !r.is_empty() {
            return Err(WireError::Malformed(
                "bytes after the OP_QUERY returnFieldsSelector",
            ));
        }
        Ok(OpQuery {
            flags,
            full_collection_name,
            number_to_skip,
            number_to_return,
            query,
            return_fields_selector,
        })
    }

    /// Appends the bytes after the header.
    pub(crate) fn encode_body(&self, buf: &mut Vec<u8>) -> Result<(), WireError> {
        put_i32(buf, self.flags);
        put_cstring(
            buf,
            &self.full_collection_name,
            "fullCollectionName contains a NUL byte",
        )?;
        put_i32(buf, self.number_to_skip);
        put_i32(buf, self.number_to_return);
        write_document(buf, &self.query)?;
        if let Some(selector) = &self.return_fields_selector {
            write_document(buf, selector)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    fn query(query: Document) -> OpQuery {
        OpQuery {
            flags: 0,
            full_collection_name: "admin.$cmd".into(),
            number_to_skip: 0,
            number_to_return: -1,
            query,
            return_fields_selector: None,
        }
    }

    #[test]
    fn command_and_database() {
        let plain = query(doc! { "isMaster": 1 });
        assert_eq!(plain.database(), "admin");
        assert_eq!(plain.command(), &doc! { "isMaster": 1 });
        let wrapped =
            query(doc! { "$query": { "ismaster": 1 }, "$readPreference": { "mode": "primary" } });
        assert_eq!(wrapped.command(), &doc! { "ismaster": 1 });
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let encode = |q: &OpQuery| {
            let mut buf = Vec::new();
            q.encode_body(&mut buf).unwrap();
            buf
        };
        let mut q = query(doc! { "isMaster": 1 });
        // One stray byte where the optional selector would start is not a document.
        let mut buf = encode(&q);
        assert_eq!(OpQuery::decode(&buf).unwrap(), q);
        buf.push(0);
        assert!(matches!(OpQuery::decode(&buf), Err(WireError::BadBson(_))));
        // Anything after the selector is refused.
        q.return_fields_selector = Some(doc! { "a": 1 });
        let mut buf = encode(&q);
        assert_eq!(OpQuery::decode(&buf).unwrap(), q);
        buf.push(0);
        assert!(matches!(
            OpQuery::decode(&buf),
            Err(WireError::Malformed(_))
        ));
        // A cut-off prefix and a name without its NUL.
        assert!(matches!(
            OpQuery::decode(&[1, 0]),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            OpQuery::decode(&[0, 0, 0, 0, b'a']),
            Err(WireError::Malformed(_))
        ));
    }
}
