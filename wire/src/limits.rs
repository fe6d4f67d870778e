//! Every hard bound of the crate, in one place.
//!
//! The decoder checks each declared length against the bytes at hand and against these
//! limits *before* it allocates, so a hostile peer cannot make it reserve more memory than
//! the message it actually sent (times a small constant).

/// mongod's `maxMessageSizeBytes`: the default bound on one whole message, header included.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 48_000_000;

/// The largest BSON document accepted inside a message: mongod's user limit of 16 MiB
/// (`maxBsonObjectSize`) plus the 16 KiB it allows commands for their own fields.
pub const MAX_BSON_DOCUMENT_SIZE: usize = 16 * 1024 * 1024 + 16 * 1024;

/// The deepest nesting of documents and arrays accepted (the top-level document is depth 1).
///
/// mongod allows 200 (`BSONDepth::kDefaultMaxAllowableDepth`). The decoder here builds
/// documents without recursion, but the `bson` crate *serialises* recursively, at up to
/// ~10 KiB of stack per level in a debug build; 100 levels keep re-encoding a decoded
/// document well inside a 2 MiB thread stack. Drivers' own documents never come close.
pub const MAX_BSON_DEPTH: usize = 100;

/// mongod's `maxWriteBatchSize`: drivers split writes so that one sequence holds at most
/// this many documents.
pub const MAX_WRITE_BATCH_SIZE: usize = 100_000;

/// The most documents one message may carry across all its sections. A driver's largest
/// message (`bulkWrite`) has a body plus two sequences of at most
/// [`MAX_WRITE_BATCH_SIZE`] documents each.
pub const MAX_DOCUMENTS_PER_MESSAGE: usize = 2 * MAX_WRITE_BATCH_SIZE + 1;

/// The most sections one OP_MSG may carry. Drivers send a body plus at most two sequences.
pub const MAX_SECTIONS_PER_MESSAGE: usize = 64;

/// The first allocation when reading a message from a stream; the buffer grows as bytes
/// actually arrive, so a header that announces 48 MB does not reserve 48 MB up front.
pub(crate) const INITIAL_READ_CAPACITY: usize = 64 * 1024;

/// The size of the standard message header.
pub(crate) const HEADER_LEN: usize = 16;

/// The smallest BSON document: a 4-byte length and the terminating NUL.
pub(crate) const MIN_BSON_DOCUMENT_SIZE: usize = 5;

const _: () = assert!(HEADER_LEN < DEFAULT_MAX_MESSAGE_SIZE);
const _: () = assert!(MAX_BSON_DOCUMENT_SIZE < DEFAULT_MAX_MESSAGE_SIZE);
const _: () = assert!(MIN_BSON_DOCUMENT_SIZE < MAX_BSON_DOCUMENT_SIZE);
const _: () = assert!(MAX_BSON_DEPTH >= 2);
const _: () = assert!(INITIAL_READ_CAPACITY >= HEADER_LEN);
const _: () = assert!(DEFAULT_MAX_MESSAGE_SIZE <= i32::MAX as usize);
