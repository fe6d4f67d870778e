//! BSON documents: framing checks here, the parser in `parse.rs`, the writer in `write.rs`.
//!
//! A document's declared length is checked against the bytes at hand and
//! [`MAX_BSON_DOCUMENT_SIZE`] before anything else is read.

mod parse;
#[cfg(test)]
mod tests;
mod write;

use bson::Document;

use crate::codec::Reader;
use crate::error::WireError;
use crate::limits::{MAX_BSON_DOCUMENT_SIZE, MIN_BSON_DOCUMENT_SIZE};

use parse::parse;
pub(crate) use write::write_document;

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
