//! OP_MSG (opcode 2013): flag bits, sections, and the optional CRC-32C checksum.
//!
//! Layout after the header: `flagBits` (uint32), one or more sections, then a `checksum`
//! (uint32) if `flagBits` has [`MsgFlags::CHECKSUM_PRESENT`]. A section is a kind byte and
//! either one document (kind 0, the body; exactly one per message) or an `int32` size that
//! counts itself, a C-string identifier and documents up to that size (kind 1).
//!
//! Decoding keeps everything the bytes say (raw flag bits, section order, the checksum), so
//! encoding a decoded message gives back the same bytes; see `fuzzing`.

use std::ops::BitOr;

use bson::{Bson, Document};

use crate::codec::{length_prefixed, put_cstring, put_u32, Reader};
use crate::document::{read_document, write_document};
use crate::error::WireError;
use crate::limits::{MAX_DOCUMENTS_PER_MESSAGE, MAX_SECTIONS_PER_MESSAGE};

/// OP_MSG `flagBits`. Bits 0-15 are *required*: a receiver must refuse a bit it does not
/// know there. Bits 16-31 are optional and kept as they came.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct MsgFlags(u32);

impl MsgFlags {
    /// Bit 0: the message ends with a CRC-32C of everything before it.
    pub const CHECKSUM_PRESENT: MsgFlags = MsgFlags(1);
    /// Bit 1: from a client, "send no reply"; from a server, "another reply follows".
    pub const MORE_TO_COME: MsgFlags = MsgFlags(1 << 1);
    /// Bit 16: the client accepts several replies to this request (exhaust).
    pub const EXHAUST_ALLOWED: MsgFlags = MsgFlags(1 << 16);

    /// The required bits (0-15) this crate knows.
    const KNOWN_REQUIRED: u32 = Self::CHECKSUM_PRESENT.0 | Self::MORE_TO_COME.0;
    /// Bits 0-15.
    const REQUIRED_MASK: u32 = 0xFFFF;

    /// No flag set.
    pub const fn empty() -> MsgFlags {
        MsgFlags(0)
    }

    /// Flags from wire bits.
    ///
    /// # Errors
    /// [`WireError::BadFlags`] if an unknown required bit (0-15) is set.
    pub const fn from_bits(bits: u32) -> Result<MsgFlags, WireError> {
        if bits & Self::REQUIRED_MASK & !Self::KNOWN_REQUIRED != 0 {
            return Err(WireError::BadFlags(bits));
        }
        Ok(MsgFlags(bits))
    }

    /// The wire bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// True if every bit of `other` is set in `self`.
    pub const fn contains(self, other: MsgFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets the bits of `other`.
    pub fn insert(&mut self, other: MsgFlags) {
        self.0 |= other.0;
    }

    /// Clears the bits of `other`.
    pub fn remove(&mut self, other: MsgFlags) {
        self.0 &= !other.0;
    }
}

impl BitOr for MsgFlags {
    type Output = MsgFlags;

    fn bitor(self, rhs: MsgFlags) -> MsgFlags {
        MsgFlags(self.0 | rhs.0)
    }
}

/// One OP_MSG section.
#[derive(Debug, Clone, PartialEq)]
pub enum Section {
    /// Kind 0: the command body (exactly one per message).
    Body(Document),
    /// Kind 1: a document sequence that stands for the body field `identifier`.
    Sequence {
        /// The body field the documents belong to (`documents`, `updates`, `deletes`, ...).
        identifier: String,
        /// The documents, in order.
        documents: Vec<Document>,
    },
}

/// An OP_MSG message.
#[derive(Debug, Clone, PartialEq)]
pub struct OpMsg {
    /// `flagBits`.
    pub flags: MsgFlags,
    /// The sections in wire order.
    pub sections: Vec<Section>,
    /// The checksum read from the wire (already verified). Encoding ignores this field: it
    /// computes a fresh checksum whenever `flags` has [`MsgFlags::CHECKSUM_PRESENT`].
    pub checksum: Option<u32>,
}

impl OpMsg {
    /// A message with `body` as its only section and no flags: what a command looks like.
    pub fn command(body: Document) -> OpMsg {
        OpMsg {
            flags: MsgFlags::empty(),
            sections: vec![Section::Body(body)],
            checksum: None,
        }
    }

    /// The kind-0 body, if the message has one (every decoded message has exactly one).
    pub fn body(&self) -> Option<&Document> {
        self.sections.iter().find_map(|section| match section {
            Section::Body(body) => Some(body),
            Section::Sequence { .. } => None,
        })
    }

    /// The command as mongod sees it: the body with every kind-1 sequence folded in as an
    /// array field named by its identifier.
    ///
    /// # Errors
    /// [`WireError::BadSection`] without a body, [`WireError::DuplicateField`] if a
    /// sequence's identifier is already a body field or another sequence's identifier.
    pub fn into_command(self) -> Result<Document, WireError> {
        let mut body = None;
        let mut sequences = Vec::new();
        for section in self.sections {
            match section {
                Section::Body(doc) if body.is_none() => body = Some(doc),
                Section::Body(_) => {
                    return Err(WireError::BadSection("more than one body section"))
                }
                Section::Sequence {
                    identifier,
                    documents,
                } => sequences.push((identifier, documents)),
            }
        }
        let mut command = body.ok_or_else(|| WireError::BadSection("no body section (kind 0)"))?;
        for (identifier, documents) in sequences {
            if command.contains_key(&identifier) {
                return Err(WireError::DuplicateField(identifier));
            }
            let array = documents.into_iter().map(Bson::Document).collect();
            command.insert(identifier, Bson::Array(array));
        }
        Ok(command)
    }

    /// Decodes an OP_MSG from a whole message (`message` starts with the 16-byte header,
    /// whose length the caller has checked against `message.len()`).
    pub(crate) fn decode(message: &[u8]) -> Result<OpMsg, WireError> {
        let after_header = message
            .get(super::Header::LEN..)
            .ok_or_else(|| WireError::ShortHeader)?;
        let mut r = Reader::new(after_header);
        let bits = r
            .u32()
            .ok_or_else(|| WireError::Malformed("OP_MSG without flagBits"))?;
        let flags = MsgFlags::from_bits(bits)?;
        let (sections, checksum) = if flags.contains(MsgFlags::CHECKSUM_PRESENT) {
            let covered_len = message
                .len()
                .checked_sub(4)
                .filter(|&len| len >= super::Header::LEN + 4)
                .ok_or_else(|| {
                    WireError::Malformed("checksumPresent set but no room for a checksum")
                })?;
            let (covered, tail) = message.split_at(covered_len);
            let stored = Reader::new(tail)
                .u32()
                .ok_or_else(|| WireError::ChecksumMismatch)?;
            if crate::checksum::crc32c(covered) != stored {
                return Err(WireError::ChecksumMismatch);
            }
            (r.take(r.remaining() - 4).unwrap_or_default(), Some(stored))
        } else {
            (r.take(r.remaining()).unwrap_or_default(), None)
        };
        Ok(OpMsg {
            flags,
            sections: decode_sections(sections)?,
            checksum,
        })
    }

    /// Appends `flagBits` and the sections (not the checksum: that needs the final header).
    pub(crate) fn encode_body(&self, buf: &mut Vec<u8>) -> Result<(), WireError> {
        put_u32(buf, self.flags.bits());
        for section in &self.sections {
            match section {
                Section::Body(doc) => {
                    buf.push(0);
                    write_document(buf, doc)?;
                }
                Section::Sequence {
                    identifier,
                    documents,
                } => {
                    buf.push(1);
                    length_prefixed(buf, |buf| {
                        put_cstring(buf, identifier, "sequence identifier contains a NUL byte")?;
                        documents
                            .iter()
                            .try_for_each(|doc| write_document(buf, doc))
                    })?;
                }
            }
        }
        Ok(())
    }
}

/// Decodes the sections, which must fill `bytes` exactly and hold exactly one body.
fn decode_sections(bytes: &[u8]) -> Result<Vec<Section>, WireError> {
    let mut r = Reader::new(bytes);
    let mut sections = Vec::new();
    let mut documents = 0usize;
    let mut bodies = 0usize;
    while !r.is_empty() {
        if sections.len() == MAX_SECTIONS_PER_MESSAGE {
            return Err(WireError::LimitExceeded {
                what: "sections",
                max: MAX_SECTIONS_PER_MESSAGE,
            });
        }
        let kind = r
            .u8()
            .ok_or_else(|| WireError::BadSection("missing section kind"))?;
        let section = match kind {
            0 => {
                bodies += 1;
                count_document(&mut documents)?;
                Section::Body(read_document(&mut r)?)
            }
            1 => decode_sequence(&mut r, &mut documents)?,
            other => return Err(WireError::UnknownSectionKind(other)),
        };
        sections.push(section);
    }
    match bodies {
        0 => Err(WireError::BadSection("no body section (kind 0)")),
        1 => Ok(sections),
        _ => Err(WireError::BadSection("more than one body section")),
    }
}

/// Decodes a kind-1 section after its kind byte.
fn decode_sequence(r: &mut Reader<'_>, documents: &mut usize) -> Result<Section, WireError> {
    let size = r
        .i32()
        .ok_or_else(|| WireError::BadSection("sequence size cut off"))?;
    let content_len = usize::try_from(size)
        .ok()
        .and_then(|size| size.checked_sub(4))
        .ok_or_else(|| WireError::BadSection("sequence size below 4"))?;
    let content = r
        .take(content_len)
        .ok_or_else(|| WireError::BadSection("sequence size overruns the message"))?;
    let mut s = Reader::new(content);
    let identifier = s
        .cstring()
        .map_err(|_| WireError::BadSection("sequence identifier is not a UTF-8 C-string"))?
        .to_owned();
    let mut docs = Vec::new();
    while !s.is_empty() {
        count_document(documents)?;
        docs.push(read_document(&mut s)?);
    }
    Ok(Section::Sequence {
        identifier,
        documents: docs,
    })
}

/// Counts one more document against [`MAX_DOCUMENTS_PER_MESSAGE`].
pub(crate) fn count_document(count: &mut usize) -> Result<(), WireError> {
    if *count >= MAX_DOCUMENTS_PER_MESSAGE {
        return Err(WireError::LimitExceeded {
            what: "documents",
            max: MAX_DOCUMENTS_PER_MESSAGE,
        });
    }
    *count += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn flags_keep_optional_bits_and_refuse_unknown_required_ones() {
        let flags = MsgFlags::from_bits(1 | 2 | (1 << 16) | (1 << 20)).unwrap();
        assert!(flags.contains(MsgFlags::CHECKSUM_PRESENT | MsgFlags::MORE_TO_COME));
        assert!(flags.contains(MsgFlags::EXHAUST_ALLOWED));
        assert_eq!(flags.bits() & (1 << 20), 1 << 20, "optional bits are kept");
        for bit in 2..16 {
            assert!(
                matches!(MsgFlags::from_bits(1 << bit), Err(WireError::BadFlags(b)) if b == 1 << bit)
            );
        }
        let mut flags = MsgFlags::empty();
        flags.insert(MsgFlags::MORE_TO_COME);
        assert!(flags.contains(MsgFlags::MORE_TO_COME));
        flags.remove(MsgFlags::MORE_TO_COME);
        assert_eq!(flags, MsgFlags::empty());
    }

    #[test]
    fn into_command_folds_sequences_in_order() {
        let msg = OpMsg {
            flags: MsgFlags::empty(),
            sections: vec![
                Section::Sequence {
                    identifier: "documents".into(),
                    documents: vec![doc! { "_id": 1 }, doc! { "_id": 2 }],
                },
                Section::Body(doc! { "insert": "c", "$db": "d" }),
                Section::Sequence {
                    identifier: "empty".into(),
                    documents: vec![],
                },
            ],
            checksum: None,
        };
        assert_eq!(msg.body(), Some(&doc! { "insert": "c", "$db": "d" }));
        assert_eq!(
            msg.into_command().unwrap(),
            doc! { "insert": "c", "$db": "d", "documents": [{ "_id": 1 }, { "_id": 2 }], "empty": [] }
        );
    }

    #[test]
    fn into_command_refuses_a_field_given_twice() {
        let sequence = |id: &str| Section::Sequence {
            identifier: id.into(),
            documents: vec![doc! {}],
        };
        let in_body = OpMsg {
            sections: vec![
                Section::Body(doc! { "documents": [] }),
                sequence("documents"),
            ],
            ..OpMsg::command(doc! {})
        };
        assert!(
            matches!(in_body.into_command(), Err(WireError::DuplicateField(f)) if f == "documents")
        );
        let twice = OpMsg {
            sections: vec![Section::Body(doc! {}), sequence("u"), sequence("u")],
            ..OpMsg::command(doc! {})
        };
        assert!(matches!(
            twice.into_command(),
            Err(WireError::DuplicateField(_))
        ));
        let no_body = OpMsg {
            sections: vec![sequence("u")],
            ..OpMsg::command(doc! {})
        };
        assert!(matches!(
            no_body.into_command(),
            Err(WireError::BadSection(_))
        ));
    }
}
