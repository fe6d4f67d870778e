//! The crate's errors: [`WireError`] for bytes and streams, [`ClientError`] for the client.
//!
//! Every malformed input maps to a typed [`WireError`]; the decoder never panics and never
//! allocates by a length it has not checked against the bytes at hand and the limits.

use std::time::Duration;

/// Why a message could not be read, decoded or encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Fewer than the 16 bytes of a message header.
    #[error("message shorter than the 16-byte header")]
    ShortHeader,
    /// The header's `messageLength` is negative.
    #[error("negative messageLength")]
    NegativeLength,
    /// The header's `messageLength` is below 16, so it cannot even hold the header.
    #[error("messageLength {0} is below the 16-byte header")]
    Undersized(i32),
    /// The header's `messageLength` is above the maximum message size.
    #[error("messageLength {length} exceeds the maximum message size of {max} bytes")]
    Oversized {
        /// The declared (or, when encoding, the actual) length.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// The buffer holds more bytes than the header's `messageLength`.
    #[error("buffer of {actual} bytes holds more than the declared messageLength {declared}")]
    LengthMismatch {
        /// `messageLength` from the header.
        declared: usize,
        /// The buffer's length.
        actual: usize,
    },
    /// An opcode this crate does not speak.
    #[error("unknown opCode {0}")]
    UnknownOpCode(i32),
    /// An OP_MSG section is malformed (bad sequence size, no body, two bodies, ...).
    #[error("bad OP_MSG section: {0}")]
    BadSection(&'static str),
    /// An OP_MSG section kind other than 0 (body) or 1 (document sequence).
    #[error("unknown OP_MSG section kind {0}")]
    UnknownSectionKind(u8),
    /// OP_MSG flag bits with an unknown *required* bit (bits 0-15) set.
    #[error("OP_MSG flagBits {0:#010x} set an unknown required bit")]
    BadFlags(u32),
    /// A BSON document failed to parse (or failed the structure checks done before parsing).
    #[error("bad BSON document: {0}")]
    BadBson(#[source] bson::de::Error),
    /// Some other structural problem (a C-string without its NUL, bytes after the last
    /// field, a count that does not match the documents, ...).
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// A bound of `limits` was exceeded (BSON nesting depth, sections, documents).
    #[error("message exceeds the limit of {max} {what}")]
    LimitExceeded {
        /// What was counted.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// The stream (or buffer) ended before the message did.
    #[error("message truncated: expected {expected} bytes, got {got}")]
    Truncated {
        /// Bytes the message needs.
        expected: usize,
        /// Bytes that arrived.
        got: usize,
    },
    /// The OP_MSG CRC-32C checksum does not match the message.
    #[error("OP_MSG checksum mismatch")]
    ChecksumMismatch,
    /// An OP_COMPRESSED message; this crate never negotiates compression.
    #[error("OP_COMPRESSED is not supported (no compressor was negotiated)")]
    CompressionUnsupported,
    /// Folding document sequences into the body found a field twice.
    #[error("field `{0}` is present in the body and in a document sequence (or in two sequences)")]
    DuplicateField(String),
    /// A document could not be serialized (e.g. a key containing a NUL byte).
    #[error("cannot encode document: {0}")]
    EncodeBson(#[source] bson::ser::Error),
    /// A message cannot be represented on the wire (e.g. a C-string with a NUL byte).
    #[error("cannot encode message: {0}")]
    Unencodable(&'static str),
    /// An I/O error on the stream.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the stream cleanly between two messages.
    #[error("connection closed by peer")]
    ConnectionClosed,
}

impl WireError {
    /// A [`WireError::BadBson`] with a message of this crate's own structure checks.
    pub(crate) fn bad_bson(message: impl std::fmt::Display) -> Self {
        WireError::BadBson(<bson::de::Error as serde::de::Error>::custom(message))
    }
}

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The stream broke or carried a malformed message.
    #[error("wire error: {0}")]
    Wire(#[from] WireError),
    /// The server answered `ok: 0`.
    #[error("command failed with {code} ({code_name}): {message}")]
    Command {
        /// The server's error `code` (0 if absent).
        code: i32,
        /// `codeName` (empty if absent).
        code_name: String,
        /// `errmsg` (empty if absent).
        message: String,
        /// `errorLabels`.
        labels: Vec<String>,
    },
    /// The operation took longer than its timeout.
    #[error("operation timed out after {0:?}")]
    Timeout(Duration),
    /// Connecting the socket failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The server answered, but not as the protocol says it must (wrong `responseTo`,
    /// a legacy reply to OP_MSG, no `ok` field, ...).
    #[error("protocol violation: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The server error code of a [`ClientError::Command`].
    pub fn code(&self) -> Option<i32> {
        match self {
            ClientError::Command { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// True if this is a [`ClientError::Command`] carrying `label` in its `errorLabels`.
    pub fn has_label(&self, label: &str) -> bool {
        match self {
            ClientError::Command { labels, .. } => labels.iter().any(|l| l == label),
            _ => false,
        }
    }

    /// True for errors that leave the connection unusable (broken stream, malformed
    /// reply, timeout): the caller should drop the connection rather than reuse it.
    pub fn is_network_error(&self) -> bool {
        !matches!(self, ClientError::Command { .. })
    }
}
