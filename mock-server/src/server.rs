//! The shared server state: data, cursors, fail point, faults, counters and identity.
//!
//! One [`Server`] is shared (`Arc`) by every connection task. Each part has its own lock,
//! held only for the few statements that touch it and never across an `.await`, so a
//! blocked or slow connection never stalls the others.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bson::{oid::ObjectId, Document};
use tokio::sync::watch;

use crate::cursor::CursorTable;
use crate::error::CommandError;
use crate::failpoint::{BlockRelease, FailCommand};
use crate::faults::Faults;
use crate::judge::{Judge, JudgeSpec, Verdict};
use crate::limits::MESSAGE_SIZE_MAX;
use crate::locks::{lock, read, write};
use crate::stats::{ConnectionStats, Counters};
use crate::store::Store;

/// How the server presents itself. `ServerOptions::default()` looks like a standalone
/// mongod 7.0 on `localhost:27017`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerOptions {
    /// `host:port` reported by serverStatus.
    pub host: String,
    /// `minWireVersion` in hello (mongod: 0).
    pub min_wire_version: i32,
    /// `maxWireVersion` in hello (21 is MongoDB 7.0; current drivers need at least 9).
    pub max_wire_version: i32,
    /// Whether hello carries `topologyVersion` and supports awaitable hello (drivers then
    /// stream heartbeats). Off, drivers poll every `heartbeatFrequencyMS`.
    pub topology_version: bool,
    /// `Some(name)` presents the server as the primary of a one-member replica set of that
    /// name (hello gets `setName`, `hosts`, `primary`, `me`, ...). Drivers use retryable
    /// writes only against replica sets and sharded clusters, never a standalone, so a
    /// test of retryable writes needs this. `None` (the default) is a standalone.
    pub replica_set: Option<String>,
    /// failCommand `blockConnection` blocks that would end within this window after an
    /// earlier block's end are released together, at the latest of their ends, so none
    /// ends before its own `blockTimeMS`. Zero (the default) releases each at its own end,
    /// as mongod does. mongod answers commands blocked a few microseconds apart a few
    /// microseconds apart, but Tokio's timer ticks every millisecond, so here they can end
    /// a whole tick apart; a 1 ms window removes that artifact for tests whose expected
    /// outcome assumes commands blocked together end together (the CMAP spec runner's
    /// end-to-end runs use it). See [`crate::failpoint::BlockRelease`].
    pub block_release_window: Duration,
    /// The largest message read; larger ones close the connection.
    pub max_message_size: usize,
    /// The fault settings at start.
    pub faults: Faults,
    /// Seeds `activationProbability`, so fail point runs repeat.
    pub seed: u64,
    /// `Some` turns on the wire-side pool checker ([`crate::judge`]) with these bounds.
    /// `None` (the default) leaves it off.
    pub judge: Option<JudgeSpec>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            host: "localhost:27017".to_string(),
            min_wire_version: 0,
            max_wire_version: 21,
            topology_version: true,
            replica_set: None,
            block_release_window: Duration::ZERO,
            max_message_size: MESSAGE_SIZE_MAX as usize,
            faults: Faults::default(),
            seed: 0x5EED,
            judge: None,
        }
    }
}

/// The mock mongod's state, shared by all connections.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use mock_server::{Server, ServerOptions};
///
/// let server = Arc::new(Server::new(ServerOptions::default()));
/// server.insert_documents("db", "coll", vec![bson::doc! {"_id": 1}]).unwrap();
/// assert_eq!(server.documents("db", "coll").len(), 1);
/// assert_eq!(server.connection_stats().current, 0);
/// ```
#[derive(Debug)]
pub struct Server {
    options: ServerOptions,
    pub(crate) store: RwLock<Store>,
    pub(crate) cursors: Mutex<CursorTable>,
    pub(crate) fail_command: Mutex<FailCommand>,
    /// The most recent block's release, which later blocks within the window join.
    last_block: Mutex<Option<BlockRelease>>,
    faults: Mutex<Faults>,
    pub(crate) counters: Arc<Counters>,
    identity: Mutex<Identity>,
    /// Bumped by every restart; connections watch it and close.
    restarts: watch::Sender<u64>,
    next_connection_id: AtomicI64,
    /// The pool checker, when [`ServerOptions::judge`] is set.
    judge: Option<Arc<Judge>>,
}

/// What changes when the server "restarts".
#[derive(Clone, Copy, Debug)]
struct Identity {
    process_id: ObjectId,
    started: Instant,
}

impl Server {
    /// A server with no data, no fail point and `options.faults` in force.
    pub fn new(options: ServerOptions) -> Server {
        let (restarts, _) = watch::channel(0);
        Server {
            store: RwLock::new(Store::new()),
            cursors: Mutex::new(CursorTable::default()),
            fail_command: Mutex::new(FailCommand::new(options.seed)),
            last_block: Mutex::new(None),
            faults: Mutex::new(options.faults.clone()),
            counters: Arc::new(Counters::default()),
            identity: Mutex::new(Identity {
                process_id: ObjectId::new(),
                started: Instant::now(),
            }),
            restarts,
            next_connection_id: AtomicI64::new(1),
            judge: options.judge.map(|spec| Arc::new(Judge::new(spec))),
            options,
        }
    }

    /// The options the server was built with.
    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    /// The pool checker, if [`ServerOptions::judge`] turned it on.
    pub fn judge(&self) -> Option<&Arc<Judge>> {
        self.judge.as_ref()
    }

    /// The pool checker's verdict so far (`None` with the judge off).
    pub fn verdict(&self) -> Option<Verdict> {
        self.judge.as_ref().map(|judge| judge.verdict())
    }

    /// The connection counters, as `serverStatus.connections` reports them.
    pub fn connection_stats(&self) -> ConnectionStats {
        self.counters
            .snapshot(self.faults().max_incoming_connections)
    }

    /// The fault settings in force.
    pub fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }

    /// Replaces the fault settings. New connections and the next replies see them at once.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    /// Runs a `configureFailPoint` command document (as if sent on `admin`) and returns
    /// its reply.
    ///
    /// # Errors
    /// As mongod: an unknown fail point name or a malformed mode or data.
    pub fn configure_fail_point(&self, command: &Document) -> Result<Document, CommandError> {
        lock(&self.fail_command).configure(command)
    }

    /// Simulates a mongod restart: every open connection is dropped, every cursor killed,
    /// the fail point turned off, and `topologyVersion.processId` renewed. With
    /// `drop_data` the stored documents are dropped too. The connection counters are not
    /// reset, so a harness's baselines stay valid.
    pub fn restart(&self, drop_data: bool) {
        if drop_data {
            write(&self.store).clear();
        }
        lock(&self.cursors).clear();
        lock(&self.fail_command).reset();
        *lock(&self.identity) = Identity {
            process_id: ObjectId::new(),
            started: Instant::now(),
        };
        self.restarts.send_modify(|n| *n = n.wrapping_add(1));
        tracing::info!(drop_data, "restart: dropping every connection");
    }

    /// A copy of the documents of `db.coll` in insertion order (empty if missing).
    pub fn documents(&self, db: &str, coll: &str) -> Vec<Document> {
        read(&self.store)
            .collection(db, coll)
            .map(|c| c.documents().to_vec())
            .unwrap_or_default()
    }

    /// Inserts documents directly (seeding data for a test), as an ordered insert.
    ///
    /// # Errors
    /// The first write error (duplicate `_id`, bad namespace, limits).
    pub fn insert_documents(
        &self,
        db: &str,
        coll: &str,
        docs: Vec<Document>,
    ) -> Result<(), CommandError> {
        let mut store = write(&self.store);
        for doc in docs {
            store.insert(db, coll, doc)?;
        }
        Ok(())
    }

    /// The current `topologyVersion.processId`.
    pub fn process_id(&self) -> ObjectId {
        lock(&self.identity).process_id
    }

    /// Time since the server (re)started.
    pub fn uptime(&self) -> Duration {
        lock(&self.identity).started.elapsed()
    }

    /// The number of open cursors.
    pub fn open_cursors(&self) -> usize {
        lock(&self.cursors).len()
    }

    /// A receiver that changes on every restart.
    pub(crate) fn restart_signal(&self) -> watch::Receiver<u64> {
        self.restarts.subscribe()
    }

    /// A fresh connection id (distinct for the server's lifetime, as mongod's).
    pub(crate) fn next_connection_id(&self) -> i64 {
        self.next_connection_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The release of a failCommand block of `duration` starting now: its own, or, within
    /// [`ServerOptions::block_release_window`] of the previous block's end, that one's
    /// (pushed back to this block's end if later).
    pub(crate) fn block_release(&self, duration: Duration) -> BlockRelease {
        let wanted = tokio::time::Instant::now() + duration;
        let window = self.options.block_release_window;
        if window.is_zero() {
            return BlockRelease::new(wanted);
        }
        let mut last = lock(&self.last_block);
        if let Some(release) = last.as_ref().filter(|r| r.joins(wanted, window)) {
            release.extend_to(wanted);
            return release.clone();
        }
        let release = BlockRelease::new(wanted);
        *last = Some(release.clone());
        release
    }

    /// Takes one unit of the `reset_mid_reply` fault, if any is left.
    pub(crate) fn take_mid_reply_cut(&self) -> bool {
        let mut faults = lock(&self.faults);
        if faults.reset_mid_reply == 0 {
            return false;
        }
        faults.reset_mid_reply -= 1;
        true
    }
}
