//! The event trace of one run: what the pool reported, what the world saw, what the
//! harness did. Every record is hashed as it is appended (FNV-1a over a fixed encoding, so
//! the hash is the same on every machine); two runs of one seed must give the same hash.
//! The records themselves are kept only when asked (replays, failures), and are written
//! as JSON lines ([`write_json_lines`]) or as a Perfetto trace ([`crate::perfetto`]).

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use pool_core::ConnectionId;
use serde::Serialize;

use crate::error::SimError;
pub use crate::oracle::CheckoutId;
use crate::oracle::Invariant;
use crate::pool_under_test::PoolEvent;

/// One trace record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceRecord {
    /// Virtual time in microseconds.
    pub t_us: u64,
    /// What happened.
    #[serde(flatten)]
    pub record: Record,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "src", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Record {
    /// An event the pool reported.
    Pool {
        /// The event.
        #[serde(flatten)]
        event: PoolEvent,
    },
    /// The manager started connect `id`, for checkout `checkout` if one drove it.
    ConnectStarted {
        /// The connection.
        id: ConnectionId,
        /// The checkout whose task drove it.
        checkout: Option<CheckoutId>,
    },
    /// A connect ended.
    ConnectEnded {
        /// The connection.
        id: ConnectionId,
        /// `established`, `abandoned`, or the error.
        outcome: String,
    },
    /// A connection object was dropped.
    ConnectionDropped {
        /// The connection.
        id: ConnectionId,
    },
    /// A mock-server connection handler returned.
    ServerEnded {
        /// The connection.
        id: ConnectionId,
        /// Why it ended.
        end: String,
    },
    /// A client began a checkout.
    CheckoutBegan {
        /// The checkout.
        checkout: CheckoutId,
        /// The client.
        client: u32,
        /// Its deadline (virtual µs).
        deadline_us: u64,
    },
    /// A checkout ended: `ok`, `cancelled`, or a failure name.
    CheckoutEnded {
        /// The checkout.
        checkout: CheckoutId,
        /// How.
        outcome: String,
        /// The connection it got.
        id: Option<ConnectionId>,
    },
    /// A client stopped polling its checkout (a zombie) without dropping it.
    CheckoutAbandoned {
        /// The checkout.
        checkout: CheckoutId,
    },
    /// A client ran a command on its connection.
    Command {
        /// The client.
        client: u32,
        /// The connection.
        id: ConnectionId,
        /// Whether it succeeded.
        ok: bool,
    },
    /// A client checks its connection in.
    CheckIn {
        /// The client.
        client: u32,
        /// The connection.
        id: ConnectionId,
        /// Whether it marked it errored.
        errored: bool,
    },
    /// The harness injected a fault or acted on the pool.
    Harness {
        /// What.
        action: String,
    },
    /// An invariant was violated.
    Violation {
        /// Which.
        invariant: Invariant,
        /// Why.
        message: String,
    },
}

/// The trace being recorded.
#[derive(Debug)]
pub struct Trace {
    hash: Fnv64,
    records: Option<Vec<TraceRecord>>,
    count: u64,
}

impl Trace {
    /// A trace that keeps its records if `keep`.
    pub fn new(keep: bool) -> Trace {
        Trace {
            hash: Fnv64::default(),
            records: keep.then(Vec::new),
            count: 0,
        }
    }

    /// Appends a record at virtual time `at`.
    pub fn push(&mut self, at: Duration, record: Record) {
        let t_us = u64::try_from(at.as_micros()).unwrap_or(u64::MAX);
        t_us.hash(&mut self.hash);
        record.hash(&mut self.hash);
        self.count += 1;
        if let Some(records) = &mut self.records {
            records.push(TraceRecord { t_us, record });
        }
    }

    /// The hash of every record so far.
    pub fn hash(&self) -> u64 {
        self.hash.finish()
    }

    /// How many records were appended.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// True if nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The kept records (empty unless kept).
    pub fn into_records(self) -> Vec<TraceRecord> {
        self.records.unwrap_or_default()
    }
}

/// FNV-1a, 64-bit: deterministic across runs, processes and machines.
#[derive(Debug, Clone, Copy)]
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Writes `records` as JSON lines.
///
/// # Errors
/// [`SimError::TraceWrite`] if the file cannot be written.
pub fn write_json_lines(records: &[TraceRecord], path: &Path) -> Result<(), SimError> {
    let wrap = |source| SimError::TraceWrite {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::create(path).map_err(wrap)?;
    let mut out = std::io::BufWriter::new(file);
    for record in records {
        let line = serde_json::to_string(record).map_err(|e| wrap(e.into()))?;
        writeln!(out, "{line}").map_err(wrap)?;
    }
    out.flush().map_err(wrap)
}
