//! Every hard bound of the mock server, in one place.
//!
//! A mock that real drivers and load tests hammer must not grow without bound, so each
//! table has a stated maximum. Numbers that mirror mongod say so; the rest are chosen to be
//! far above what a test needs and far below what would exhaust the machine.

use std::time::Duration;

/// The largest BSON document mongod accepts (16 MiB), announced as `maxBsonObjectSize`.
pub const BSON_OBJECT_SIZE_MAX: i32 = 16 * 1024 * 1024;

/// The largest message mongod accepts (48,000,000 bytes), announced as `maxMessageSizeBytes`
/// and enforced on every frame before its body is allocated.
pub const MESSAGE_SIZE_MAX: i32 = 48_000_000;

/// The most writes one insert/update/delete may carry, announced as `maxWriteBatchSize`.
pub const WRITE_BATCH_SIZE_MAX: i32 = 100_000;

/// mongod's default first batch of a find or aggregate cursor, in documents.
pub const FIRST_BATCH_DEFAULT: usize = 101;

/// The byte budget of one cursor batch (mongod caps batches at 16 MiB).
pub const BATCH_BYTES_MAX: usize = 16 * 1024 * 1024;

/// The most cursors open at once, server-wide. A command that would open one more fails
/// with `ExceededMemoryLimit` instead of growing the table.
pub const CURSORS_MAX: usize = 10_000;

/// The most documents stored, server-wide. An insert or upsert past it is a write error.
pub const DOCUMENTS_MAX: usize = 1_000_000;

/// The most databases and collections (together) that may exist at once.
pub const NAMESPACES_MAX: usize = 10_000;

/// The deepest nesting that filters, projections and pipeline expressions are walked to.
/// Deeper input is rejected rather than recursed into, so hostile input cannot blow the stack.
pub const EXPRESSION_DEPTH_MAX: usize = 64;

/// The longest `sleep` test command a connection holds.
pub const SLEEP_MAX: Duration = Duration::from_secs(60);

/// The longest a `blockConnection` fail point or the added reply latency may hold a
/// connection. Longer values are clamped; a test never needs more.
pub const BLOCK_TIME_MAX: Duration = Duration::from_secs(3600);

/// The longest an awaitable hello is held (mongod has no cap; drivers send 10 s).
pub const AWAIT_TIME_MAX: Duration = Duration::from_secs(600);

/// mongod's `logicalSessionTimeoutMinutes`.
pub const SESSION_TIMEOUT_MINUTES: i32 = 30;

/// The default `maxIncomingConnections` of mongod (reported as `available` when no limit is
/// set).
pub const INCOMING_CONNECTIONS_DEFAULT: u32 = 1_000_000;

const _: () = assert!(BSON_OBJECT_SIZE_MAX < MESSAGE_SIZE_MAX);
const _: () = assert!(BATCH_BYTES_MAX <= BSON_OBJECT_SIZE_MAX as usize);
const _: () = assert!(FIRST_BATCH_DEFAULT > 0);

/// The most connections the judge (`--judge`) tracks at once; later ones are counted as
/// untracked and not checked.
pub const JUDGE_CONNECTIONS_MAX: usize = 100_000;

/// The most distinct clients (driver, appName, IP) whose handshake history the judge
/// keeps; connections of further clients skip WIRE-CONNECTING and count as untracked.
pub const JUDGE_CLIENTS_MAX: usize = 1_000;

/// The most pooled handshakes the judge remembers per client (the oldest are forgotten).
pub const JUDGE_HANDSHAKES_MAX: usize = 256;

/// The most violations the judge keeps; later ones are only counted.
pub const JUDGE_VIOLATIONS_MAX: usize = 1_000;
