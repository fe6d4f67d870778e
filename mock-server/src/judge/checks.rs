//! The checks, run live as connections are accepted, run commands and close.
//!
//! Per client (see [`super::clients`] for grouping and what "pooled" means):
//! - WIRE-MAX: when a connection becomes pooled, the client's open pooled connections
//!   (itself included) number at most maxPoolSize, counting only those still open the
//!   spec's `settle` later (decided then, at the next close or verdict read).
//! - WIRE-CONNECTING: when a connection becomes pooled, at no instant of its handshake
//!   ([accepted, first hello reply sent]) are more than maxConnecting pooled handshakes of
//!   the client under way (closed connections' handshakes count too).
//! - WIRE-SHARED: when a request is decoded, no byte of a further message has been read
//!   on its connection yet, unless the request has `moreToCome` (it expects no reply).
//!   Bytes already read arrived before the reply was written, so a report is never false;
//!   a second request that arrives later, but still before the reply, is missed.
//! - WIRE-LEAK: after a client ends its sessions (`endSessions`, or
//!   `{poolcheckClientClosed: 1, appName}`), each of its connections then open closes
//!   within the grace. Checked by the server's Tokio clock whenever a connection closes
//!   and whenever the verdict is read (so also at shutdown).
//! - WIRE-STALE (opt-in, `stale-grace-ms`): see `judge/stale.rs`.
//!
//! Every table is bounded ([`crate::limits`]): a connection beyond
//! [`JUDGE_CONNECTIONS_MAX`] or of a client beyond [`JUDGE_CLIENTS_MAX`] is not tracked
//! (counted as untracked), and violations beyond [`JUDGE_VIOLATIONS_MAX`] are only
//! counted. Nothing here panics on client input.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bson::Document;
use tokio::time::Instant;

use super::clients::{max_overlap, ClientKey, Handshake, Tracked};
use super::config::JudgeSpec;
use super::stale::{ClearCause, Generation};
use super::verdict::{Check, Verdict, Violation};
use crate::error::{code, CommandError};
use crate::limits::{
    JUDGE_CLIENTS_MAX, JUDGE_CONNECTIONS_MAX, JUDGE_HANDSHAKES_MAX, JUDGE_VIOLATIONS_MAX,
};
use crate::locks::lock;

/// The judge's own admin commands (answered only with the judge on).
const ADMIN_COMMANDS: [&str; 2] = ["poolcheckVerdict", "poolcheckClientClosed"];

/// The wire-side pool checker: watches every connection of a server and keeps a live
/// [`Verdict`].
#[derive(Debug)]
pub struct Judge {
    pub(super) spec: JudgeSpec,
    pub(super) started: Instant,
    pub(super) state: Mutex<State>,
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) open: HashMap<i64, Tracked>,
    /// Per client: the handshakes of its pooled connections, newest last.
    clients: HashMap<ClientKey, VecDeque<Handshake>>,
    /// Per client (WIRE-STALE): its wire generation; bounded by [`JUDGE_CLIENTS_MAX`].
    pub(super) generations: HashMap<ClientKey, Generation>,
    /// Bumped at every accept and every clearing error (orders them for WIRE-STALE).
    pub(super) seq: u64,
    connections: u64,
    pooled: u64,
    untracked: u64,
    violations: Vec<Violation>,
    dropped: u64,
    /// WIRE-MAX cases waiting out the settle window; bounded by [`JUDGE_CONNECTIONS_MAX`].
    over_max: Vec<OverMax>,
}

/// A connection pooled while its client had more than maxPoolSize pooled connections
/// open: a WIRE-MAX violation if enough of the others are still open `settle` later.
#[derive(Debug)]
struct OverMax {
    key: ClientKey,
    /// The connection that became pooled.
    id: i64,
    at: Instant,
    /// The client's other pooled connections open at `at` and not closed since.
    others: Vec<i64>,
}

impl Judge {
    /// A judge checking against `spec`, its clock starting now.
    pub fn new(spec: JudgeSpec) -> Judge {
        Judge {
            spec,
            started: Instant::now(),
            state: Mutex::new(State::default()),
        }
    }

    /// Answers the judge's admin commands, `{poolcheckVerdict: 1}` and
    /// `{poolcheckClientClosed: 1, appName}`; `None` for any other command.
    pub fn admin_command(&self, name: &str, db: &str, body: &Document) -> Option<Document> {
        if !ADMIN_COMMANDS.contains(&name) {
            return None;
        }
        if db != "admin" {
            let err = CommandError::new(
                code::UNAUTHORIZED,
                format!("{name} may only be run against the admin database."),
            );
            return Some(err.to_document());
        }
        if name == "poolcheckVerdict" {
            return Some(self.verdict().to_document());
        }
        let Ok(app_name) = body.get_str("appName") else {
            let err = CommandError::type_mismatch("poolcheckClientClosed needs a string 'appName'");
            return Some(err.to_document());
        };
        self.client_closed_by_app(app_name);
        Some(bson::doc! {"ok": 1.0})
    }

    /// The bounds checked.
    pub fn spec(&self) -> JudgeSpec {
        self.spec
    }

    /// The findings so far (WIRE-LEAK is brought up to date first).
    pub fn verdict(&self) -> Verdict {
        let mut state = lock(&self.state);
        self.sweep(&mut state, Instant::now());
        Verdict {
            spec: self.spec,
            clients: state.clients.len(),
            connections: state.connections,
            pooled: state.pooled,
            untracked: state.untracked,
            violations: state.violations.clone(),
            dropped: state.dropped,
        }
    }

    /// Marks every open connection whose client has application name `app_name` as
    /// closed by its client now (the `poolcheckClientClosed` command).
    pub fn client_closed_by_app(&self, app_name: &str) {
        let Some(deadline) = self.deadline() else {
            return;
        };
        let mut state = lock(&self.state);
        for tracked in state.open.values_mut() {
            if tracked.key.app_name.as_deref() == Some(app_name) {
                set_deadline(tracked, deadline);
            }
        }
    }

    /// Starts watching connection `id` from `peer`; `None` if the table is full.
    pub(crate) fn accept(self: &Arc<Self>, id: i64, peer: &str) -> Option<JudgedConnection> {
        let mut state = lock(&self.state);
        state.connections += 1;
        if state.open.len() >= JUDGE_CONNECTIONS_MAX {
            state.untracked += 1;
            return None;
        }
        state.seq += 1;
        let tracked = Tracked {
            key: ClientKey::anonymous(peer),
            seq: state.seq,
            busy: false,
            stale: None,
            named: false,
            accepted: Instant::now(),
            hello_replied: None,
            pooled: false,
            leak_deadline: None,
            leak_reported: false,
        };
        state.open.insert(id, tracked);
        Some(JudgedConnection {
            judge: Arc::clone(self),
            id,
        })
    }

    /// The latest instant a connection may stay open if its client closes now (`None` if
    /// the grace reaches past the clock's range: no deadline).
    fn deadline(&self) -> Option<Instant> {
        Instant::now().checked_add(self.spec.grace)
    }

    pub(super) fn report(
        &self,
        state: &mut State,
        check: Check,
        key: &ClientKey,
        id: i64,
        detail: String,
    ) {
        if state.violations.len() >= JUDGE_VIOLATIONS_MAX {
            state.dropped += 1;
            return;
        }
        let at = Instant::now().saturating_duration_since(self.started);
        let violation = Violation {
            check,
            client: key.to_string(),
            connection: id,
            at_millis: u64::try_from(at.as_millis()).unwrap_or(u64::MAX),
            detail,
        };
        tracing::warn!(%violation, "judge: violation");
        state.violations.push(violation);
    }

    /// Brings the time-decided checks up to `now`: WIRE-LEAK deadlines passed and WIRE-MAX
    /// cases whose settle window is over.
    fn sweep(&self, state: &mut State, now: Instant) {
        self.sweep_leaks(state, now);
        self.sweep_over_max(state, now);
    }

    /// Decides the WIRE-MAX cases whose settle window is over: still over maxPoolSize
    /// counting only the connections that stayed open through it.
    fn sweep_over_max(&self, state: &mut State, now: Instant) {
        let settle = self.spec.settle;
        let (due, waiting): (Vec<OverMax>, Vec<OverMax>) = std::mem::take(&mut state.over_max)
            .into_iter()
            .partition(|case| now >= case.at + settle);
        state.over_max = waiting;
        for case in due {
            let open = case.others.len() + 1;
            if open > self.spec.max_pool_size as usize {
                let detail = format!(
                    "{open} pooled connections open at once (maxPoolSize {}), still open {} ms later",
                    self.spec.max_pool_size,
                    settle.as_millis()
                );
                self.report(state, Check::Max, &case.key, case.id, detail);
            }
        }
    }

    /// Connection `id` closed: it no longer counts in a WIRE-MAX case still settling.
    fn closed_while_settling(state: &mut State, id: i64) {
        for case in &mut state.over_max {
            case.others.retain(|other| *other != id);
        }
    }

    fn sweep_leaks(&self, state: &mut State, now: Instant) {
        let leaked: Vec<(i64, ClientKey)> = state
            .open
            .iter_mut()
            .filter(|(_, t)| !t.leak_reported && t.leak_deadline.is_some_and(|d| now > d))
            .map(|(id, t)| {
                t.leak_reported = true;
                (*id, t.key.clone())
            })
            .collect();
        for (id, key) in leaked {
            let detail = format!(
                "still open more than {} ms after its client ended its sessions",
                self.spec.grace.as_millis()
            );
            self.report(state, Check::Leak, &key, id, detail);
        }
    }

    /// Connection `id` ran a command other than hello: it becomes pooled (once), and
    /// WIRE-MAX and WIRE-CONNECTING are checked.
    fn pool(&self, id: i64) {
        let now = Instant::now();
        let mut state = lock(&self.state);
        let Some(tracked) = state.open.get_mut(&id) else {
            return;
        };
        if tracked.pooled {
            return;
        }
        tracked.pooled = true;
        let key = tracked.key.clone();
        let handshake = Handshake {
            start: tracked.accepted,
            end: tracked.hello_replied.unwrap_or(now),
        };
        state.pooled += 1;
        let others: Vec<i64> = state
            .open
            .iter()
            .filter(|(other, t)| **other != id && t.pooled && t.key == key)
            .map(|(other, _)| *other)
            .collect();
        if others.len() >= self.spec.max_pool_size as usize
            && state.over_max.len() < JUDGE_CONNECTIONS_MAX
        {
            state.over_max.push(OverMax {
                key: key.clone(),
                id,
                at: now,
                others,
            });
        }
        self.sweep_over_max(&mut state, now);
        if !state.clients.contains_key(&key) && state.clients.len() >= JUDGE_CLIENTS_MAX {
            state.untracked += 1;
            return;
        }
        let history = state.clients.entry(key.clone()).or_default();
        let overlap = max_overlap(handshake, history.make_contiguous());
        if history.len() >= JUDGE_HANDSHAKES_MAX {
            history.pop_front();
        }
        history.push_back(handshake);
        if overlap > self.spec.max_connecting as usize {
            let detail = format!(
                "{overlap} pooled connections in their handshake at once (maxConnecting {})",
                self.spec.max_connecting
            );
            self.report(&mut state, Check::Connecting, &key, id, detail);
        }
    }
}

fn set_deadline(tracked: &mut Tracked, deadline: Instant) {
    tracked.leak_deadline = Some(tracked.leak_deadline.map_or(deadline, |d| d.min(deadline)));
}

/// The judge's view of one connection; dropping it records the close.
#[derive(Debug)]
pub(crate) struct JudgedConnection {
    judge: Arc<Judge>,
    id: i64,
}

impl JudgedConnection {
    /// A request was decoded: `silent` if it has `moreToCome`, `buffered` if bytes of a
    /// further message were already read (WIRE-SHARED unless `silent`). Classifies the
    /// connection (the judge's own commands leave it as it was) and returns whether the
    /// request is a hello, whose reply ends the handshake.
    pub(crate) fn request(&self, body: &Document, silent: bool, buffered: bool) -> bool {
        let name = body.keys().next().map(String::as_str).unwrap_or_default();
        if buffered && !silent {
            self.pipelined(name);
        }
        let hello = matches!(name, "hello" | "isMaster" | "ismaster");
        if !ADMIN_COMMANDS.contains(&name) {
            self.classify(name, hello, body);
        }
        self.judge.stale_request(self.id, silent);
        hello
    }

    /// Whether WIRE-STALE runs (then the connection reports replies and clearing errors).
    pub(crate) fn stale_on(&self) -> bool {
        self.judge.spec.stale_grace.is_some()
    }

    /// The reply to the last request was sent (WIRE-STALE: the connection is idle).
    pub(crate) fn replied(&self) {
        self.judge.stale_replied(self.id);
    }

    /// The server caused an error that makes a driver clear its pool (WIRE-STALE).
    pub(crate) fn cleared(&self, cause: ClearCause) {
        self.judge.cleared(self.id, cause);
    }

    fn classify(&self, name: &str, hello: bool, body: &Document) {
        if hello {
            let mut state = lock(&self.judge.state);
            if let Some(tracked) = state.open.get_mut(&self.id) {
                if !tracked.named && body.contains_key("client") {
                    tracked.named = true;
                    tracked.key.name_from(body);
                }
            }
            return;
        }
        self.judge.pool(self.id);
        if name == "endSessions" {
            let Some(deadline) = self.judge.deadline() else {
                return;
            };
            let mut state = lock(&self.judge.state);
            let Some(key) = state.open.get(&self.id).map(|t| t.key.clone()) else {
                return;
            };
            for tracked in state.open.values_mut().filter(|t| t.key == key) {
                set_deadline(tracked, deadline);
            }
        }
    }

    /// WIRE-SHARED: a request without `moreToCome` was decoded while bytes of a further
    /// message were already read.
    fn pipelined(&self, name: &str) {
        let mut state = lock(&self.judge.state);
        let key = state
            .open
            .get(&self.id)
            .map(|t| t.key.clone())
            .unwrap_or_default();
        let detail = format!(
            "another request arrived before the reply to '{}' was sent",
            name.chars().take(64).collect::<String>()
        );
        self.judge
            .report(&mut state, Check::Shared, &key, self.id, detail);
    }

    /// A hello reply was sent (the first one ends the handshake).
    pub(crate) fn hello_replied(&self) {
        let mut state = lock(&self.judge.state);
        if let Some(tracked) = state.open.get_mut(&self.id) {
            tracked.hello_replied.get_or_insert_with(Instant::now);
        }
    }
}

impl Drop for JudgedConnection {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut state = lock(&self.judge.state);
        self.judge.sweep(&mut state, now);
        Judge::closed_while_settling(&mut state, self.id);
        state.open.remove(&self.id);
    }
}
