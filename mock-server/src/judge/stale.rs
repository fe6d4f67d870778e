//! WIRE-STALE, opt-in (`stale-grace-ms`): where the protocol lets the server know that a
//! driver clears its pool, no connection established before that clear and idle at that
//! moment carries a second request more than the grace after it.
//!
//! A *clearing error* is one the server itself caused, on a pooled connection (one that
//! ran a command other than hello) of the client's current wire generation, in reply to
//! a request that expects a reply (no `moreToCome`) and is not a hello:
//! - a network error: the server closed the connection mid-request because of a fault it
//!   injected (`failCommand`'s `closeConnection`, a reset fault cutting the reply, a
//!   restart while the request was under way); or
//! - a state-change error reply: code 91 (ShutdownInProgress) or 11600
//!   (InterruptedAtShutdown), and, only if the server announces maxWireVersion < 8, also
//!   10107, 13435, 13436, 189, 11602 and 10058 (SDAM: 4.2+ drivers clear the pool only for
//!   the shutdown codes). The mock's own error replies carry no `topologyVersion`; one
//!   added by `failCommand`'s `errorExtraInfo` makes the error count only if it is newer
//!   than the hello's (another `processId`, or a counter above 0), since a driver ignores
//!   an error whose topologyVersion is not newer than the one it knows.
//!
//! Not counted (conservative): errors the server did not cause (client hang-ups, client
//! timeouts, malformed messages), write concern errors, errors on hello (the server
//! cannot tell a monitor's hello from a pool's handshake) and on connections that never
//! ran a command.
//!
//! Generations: each client has a wire generation (0 at first), bumped by each clearing
//! error. A connection's generation is its client's at its accept, so an error on a
//! connection accepted before the client's last clear is ignored, as SDAM ignores errors
//! from connections of an older generation. To stay sound when a driver started a
//! connection before it processed the clear, a connection accepted within the grace after
//! the last clear is treated as older too.
//!
//! On a clearing error at T0, every other open pooled connection of the client with no
//! request outstanding at T0 (idle on the wire: its last reply was sent) is marked stale
//! at T0; connections with a request outstanding are checked out, and their operation may
//! finish. A request on a marked connection is a violation if it arrives more than the
//! grace after T0 and is not the connection's first request since T0 (that one may belong
//! to an operation that checked the connection out before the driver processed the
//! error). Reported once per connection.
//!
//! Assumptions (why it is opt-in): each checkout carries one command (a multi-batch bulk
//! write, a pinned cursor or a transaction legitimately keeps using a connection across
//! the clear), and the driver handles the error within the grace. Both hold for the
//! workloads `poolcheck drivers` generates.

use std::fmt;
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{Bson, Document};
use tokio::time::Instant;

use super::checks::{Judge, State};
use super::clients::ClientKey;
use super::verdict::Check;
use crate::limits::JUDGE_CLIENTS_MAX;
use crate::locks::lock;

/// The shutdown codes: every driver clears its pool on them.
const SHUTDOWN_CODES: [i32; 2] = [91, 11600];

/// The other "not primary" / "node is recovering" codes: only drivers talking to a
/// server older than 4.2 (maxWireVersion < 8) clear their pool on them.
const STATE_CHANGE_CODES: [i32; 6] = [10107, 13435, 13436, 189, 11602, 10058];

/// The first maxWireVersion (4.2) whose drivers keep their pool on non-shutdown
/// state-change errors.
const WIRE_VERSION_4_2: i32 = 8;

/// Why the server made a driver clear its pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClearCause {
    /// `failCommand`'s `closeConnection` closed the connection mid-request.
    FailPointClosed,
    /// A reset fault cut the reply.
    FaultReset,
    /// A restart closed the connection mid-request.
    Restarted,
    /// A state-change error reply with this code.
    Code(i32),
}

impl fmt::Display for ClearCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClearCause::FailPointClosed => f.write_str("closed by failCommand closeConnection"),
            ClearCause::FaultReset => f.write_str("reply cut by a reset fault"),
            ClearCause::Restarted => f.write_str("closed by a restart"),
            ClearCause::Code(code) => write!(f, "error code {code}"),
        }
    }
}

/// What the server announced in hello that decides whether an error clears a pool.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Announced {
    /// `maxWireVersion`.
    pub(crate) max_wire_version: i32,
    /// Whether hello carries a `topologyVersion`.
    pub(crate) topology_version: bool,
    /// Its `processId`.
    pub(crate) process_id: ObjectId,
}

/// The state-change code of an error reply that makes a driver clear its pool, if any.
pub(crate) fn clearing_code(reply: &Document, announced: &Announced) -> Option<i32> {
    if matches!(reply.get("ok"), Some(Bson::Double(ok)) if *ok != 0.0) {
        return None;
    }
    let code = reply.get_i32("code").ok()?;
    let clears = SHUTDOWN_CODES.contains(&code)
        || (announced.max_wire_version < WIRE_VERSION_4_2 && STATE_CHANGE_CODES.contains(&code));
    if !clears {
        return None;
    }
    let newer = match reply.get("topologyVersion") {
        None => true,
        // Without topologyVersion in hello the driver knows none: every error is newer.
        Some(_) if !announced.topology_version => true,
        Some(Bson::Document(version)) => newer_than_hello(version, announced),
        Some(_) => false,
    };
    newer.then_some(code)
}

/// Whether an error's `topologyVersion` is newer than the hello's (`{processId, 0}`);
/// one that cannot be read is not (the error is then not counted).
fn newer_than_hello(version: &Document, announced: &Announced) -> bool {
    let Ok(process_id) = version.get_object_id("processId") else {
        return false;
    };
    if process_id != announced.process_id {
        return true;
    }
    match version.get("counter") {
        Some(Bson::Int64(counter)) => *counter > 0,
        Some(Bson::Int32(counter)) => *counter > 0,
        _ => false,
    }
}

/// A connection marked stale by a clearing error.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StaleMark {
    /// When the clearing error happened (T0).
    at: Instant,
    /// What it was.
    cause: ClearCause,
    /// On which connection.
    by: i64,
    /// Requests on this connection since T0.
    requests: u32,
    /// Whether WIRE-STALE was already reported for it.
    reported: bool,
}

/// A client's wire generation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Generation {
    /// Clearing errors so far.
    count: u64,
    /// The judge's sequence number at the last clear (connections accepted before it are
    /// of an older generation).
    seq: u64,
    /// When the last clear happened.
    at: Instant,
}

impl Judge {
    fn stale_grace(&self) -> Option<Duration> {
        self.spec.stale_grace
    }

    /// The server caused clearing error `cause` on connection `id` (a pooled, non-hello
    /// request). If the connection is of its client's current generation, the generation
    /// moves on and the client's other idle pooled connections are marked stale.
    pub(crate) fn cleared(&self, id: i64, cause: ClearCause) {
        let Some(grace) = self.stale_grace() else {
            return;
        };
        let now = Instant::now();
        let mut state = lock(&self.state);
        let Some((key, seq, accepted)) = state
            .open
            .get(&id)
            .filter(|t| t.pooled)
            .map(|t| (t.key.clone(), t.seq, t.accepted))
        else {
            return;
        };
        if !state.generations.contains_key(&key) && state.generations.len() >= JUDGE_CLIENTS_MAX {
            return;
        }
        if let Some(last) = state.generations.get(&key) {
            let settled = last.at.checked_add(grace).is_some_and(|end| accepted > end);
            if seq <= last.seq || !settled {
                return;
            }
        }
        state.seq += 1;
        let new_seq = state.seq;
        let generation = state.generations.entry(key.clone()).or_insert(Generation {
            count: 0,
            seq: 0,
            at: now,
        });
        *generation = Generation {
            count: generation.count + 1,
            seq: new_seq,
            at: now,
        };
        let mark = StaleMark {
            at: now,
            cause,
            by: id,
            requests: 0,
            reported: false,
        };
        let others = state.open.iter_mut().filter(|(other, t)| {
            **other != id && t.pooled && !t.busy && t.key == key && t.stale.is_none()
        });
        for (_, tracked) in others {
            tracked.stale = Some(mark);
        }
    }

    /// A request was decoded on connection `id` (`silent`: it expects no reply): notes it
    /// outstanding, and checks WIRE-STALE if the connection is marked.
    pub(crate) fn stale_request(&self, id: i64, silent: bool) {
        let Some(grace) = self.stale_grace() else {
            return;
        };
        let now = Instant::now();
        let mut state = lock(&self.state);
        let Some(tracked) = state.open.get_mut(&id) else {
            return;
        };
        tracked.busy = !silent;
        let Some(mark) = tracked.stale.as_mut() else {
            return;
        };
        mark.requests = mark.requests.saturating_add(1);
        let late = mark.at.checked_add(grace).is_some_and(|end| now > end);
        if mark.reported || !late || mark.requests < 2 {
            return;
        }
        mark.reported = true;
        let mark = *mark;
        let key = tracked.key.clone();
        self.report_stale(&mut state, &key, id, mark, grace);
    }

    fn report_stale(
        &self,
        state: &mut State,
        key: &ClientKey,
        id: i64,
        mark: StaleMark,
        grace: Duration,
    ) {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let t0 = millis(mark.at.saturating_duration_since(self.started));
        let detail = format!(
            "established before the pool-clearing error at {t0} ms ({} on connection {}) and \
             idle then, it carried {} requests since, this one {} ms after the error \
             (stale-grace-ms {})",
            mark.cause,
            mark.by,
            mark.requests,
            millis(Instant::now().saturating_duration_since(mark.at)),
            millis(grace),
        );
        self.report(state, Check::Stale, key, id, detail);
    }

    /// The reply to connection `id`'s request was sent: it is idle on the wire.
    pub(crate) fn stale_replied(&self, id: i64) {
        if self.stale_grace().is_none() {
            return;
        }
        let mut state = lock(&self.state);
        if let Some(tracked) = state.open.get_mut(&id) {
            tracked.busy = false;
        }
    }
}
