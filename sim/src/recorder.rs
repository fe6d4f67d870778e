//! The recorder: the one place every observation goes. It stamps each with virtual time,
//! appends it to the [`Trace`], and feeds it to the [`Oracle`]. It is the pool's
//! [`EventSink`], the manager's [`ManagerObserver`] and the network's [`NetObserver`], and
//! the workload and the fault driver report through it too, so the trace holds one
//! totally ordered story of the run.
//!
//! ## Keeping every violation
//! By default a run stops at its first violation: [`Recorder::failed`] turns true and the
//! run loop returns. With [`Recorder::set_keep_going`]`(true)` the recorder goes on
//! judging and collecting instead: `failed` stays false (so the run loop carries on to
//! quiescence and close), and [`Recorder::violations`] / [`Recording::violations`] hold
//! every distinct violation, first first (the oracle reports a persistent condition once
//! per episode and drops exact repeats; see `oracle::ledger`). [`Recorder::violated`]
//! tells whether anything was found, whatever the mode. A run loop that wants the whole
//! list sets the mode before the run and reads `Recording::violations` at the end.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use pool_core::ConnectionId;

use crate::executor::{TaskId, TaskPanic};
use crate::manager::{ConnectOutcome, ManagerObserver};
use crate::net::NetObserver;
use crate::oracle::{CheckoutOutcome, Oracle, Violation};
use crate::pool_under_test::{Capabilities, EventSink, PoolEvent, PoolStatus};
use crate::runtime::SimRuntime;
use crate::trace::{CheckoutId, Record, Trace};

struct State {
    oracle: Oracle,
    trace: Trace,
    /// Violations already written to the trace.
    traced: usize,
    /// Once set, observations are ignored (the run is being torn down).
    finished: bool,
    /// Go on after a violation (`failed` stays false).
    keep_going: bool,
    checkouts: u64,
    faults: u64,
}

/// Records and judges one run.
pub struct Recorder {
    runtime: SimRuntime,
    state: Mutex<State>,
}

/// What a finished recording yields.
#[derive(Debug)]
pub struct Recording {
    /// Every distinct violation, first first (only the first, unless the recorder kept
    /// going).
    pub violations: Vec<Violation>,
    /// Violations dropped as repeats of one already kept.
    pub suppressed: u64,
    /// The trace.
    pub trace: Trace,
    /// Checkouts begun.
    pub checkouts: u64,
    /// Faults injected.
    pub faults: u64,
    /// The interesting states reached.
    pub coverage: crate::oracle::coverage::Coverage,
}

impl Recorder {
    /// A recorder judging with `oracle`, keeping trace records if `keep`. The harness
    /// reports its clear requests through it ([`Recorder::clear_requested`]), so CLEAR
    /// is judged.
    pub fn new(runtime: SimRuntime, mut oracle: Oracle, keep: bool) -> Recorder {
        oracle.set_clear_requests_reported(true);
        Recorder {
            runtime,
            state: Mutex::new(State {
                oracle,
                trace: Trace::new(keep),
                traced: 0,
                finished: false,
                keep_going: false,
                checkouts: 0,
                faults: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the oracle and trace unless the run is over, then traces new
    /// violations.
    fn with(&self, f: impl FnOnce(&mut State, Duration)) {
        let mut state = self.lock();
        // Read under the lock: on wall-clock time (`crate::stress`) observations from
        // several threads then reach the oracle in the order of their times.
        let now = self.runtime.now();
        if state.finished {
            return;
        }
        f(&mut state, now);
        let State {
            oracle,
            trace,
            traced,
            ..
        } = &mut *state;
        for v in oracle.violations().get(*traced..).unwrap_or_default() {
            trace.push(
                v.at,
                Record::Violation {
                    invariant: v.invariant,
                    message: v.message.clone(),
                },
            );
        }
        *traced = oracle.violations().len();
    }

    /// Virtual time now.
    pub fn now(&self) -> Duration {
        self.runtime.now()
    }

    /// Sets the pool's own checkout bound.
    pub fn set_checkout_bound(&self, bound: Option<Duration>) {
        self.lock().oracle.set_checkout_bound(bound);
    }

    /// Tells the oracle which CMAP features the pool claims.
    pub fn set_capabilities(&self, capabilities: Capabilities) {
        self.lock().oracle.set_capabilities(capabilities);
    }

    /// True once an invariant was violated, unless the recorder keeps going (then
    /// always false: the run goes on collecting; see [`Recorder::violated`]).
    pub fn failed(&self) -> bool {
        let state = self.lock();
        !state.keep_going && state.oracle.failed()
    }

    /// Keep going after a violation (`true`): judge and collect every violation of the
    /// run instead of stopping at the first. Set it before the run starts.
    pub fn set_keep_going(&self, keep_going: bool) {
        self.lock().keep_going = keep_going;
    }

    /// True once an invariant was violated, in either mode.
    pub fn violated(&self) -> bool {
        self.lock().oracle.failed()
    }

    /// Every distinct violation so far, first first.
    pub fn violations(&self) -> Vec<Violation> {
        self.lock().oracle.violations().to_vec()
    }

    /// Outstanding checkouts.
    pub fn outstanding(&self) -> usize {
        self.lock().oracle.outstanding()
    }

    /// Connections establishing, per the pool's events.
    pub fn establishing(&self) -> u32 {
        self.lock().oracle.establishing()
    }

    /// Checked-out connections (fault targets).
    pub fn in_use_connections(&self) -> Vec<ConnectionId> {
        self.lock().oracle.in_use_connections()
    }

    // ===== the workload and the harness =====

    /// A checkout began on the current task, for `client`, with `deadline`.
    pub fn checkout_began(&self, client: u32, deadline: Duration) -> CheckoutId {
        let task = self.runtime.current_task();
        let mut id = 0;
        self.with(|s, now| {
            id = s.oracle.checkout_began(now, task, deadline);
            s.checkouts += 1;
            s.trace.push(
                now,
                Record::CheckoutBegan {
                    checkout: id,
                    client,
                    deadline_us: micros(deadline),
                },
            );
        });
        id
    }

    /// Checkout `k` ended.
    pub fn checkout_ended(&self, k: CheckoutId, outcome: CheckoutOutcome) {
        self.with(|s, now| {
            let (name, id) = match &outcome {
                CheckoutOutcome::Ok(id) => ("ok".to_string(), Some(*id)),
                CheckoutOutcome::Failed(f) => (f.name().to_string(), None),
                CheckoutOutcome::Cancelled => ("cancelled".to_string(), None),
            };
            s.trace.push(
                now,
                Record::CheckoutEnded {
                    checkout: k,
                    outcome: name,
                    id,
                },
            );
            s.oracle.checkout_ended(now, k, &outcome);
        });
    }

    /// Checkout `k` will not be polled again (a zombie).
    pub fn checkout_abandoned(&self, k: CheckoutId) {
        self.with(|s, now| {
            s.trace.push(now, Record::CheckoutAbandoned { checkout: k });
            s.oracle.checkout_abandoned(k);
        });
    }

    /// A client ran a command.
    pub fn command(&self, client: u32, id: ConnectionId, ok: bool) {
        self.with(|s, now| s.trace.push(now, Record::Command { client, id, ok }));
    }

    /// A client is about to check connection `id` in.
    pub fn check_in(&self, client: u32, id: ConnectionId, errored: bool) {
        self.with(|s, now| {
            s.trace.push(
                now,
                Record::CheckIn {
                    client,
                    id,
                    errored,
                },
            )
        });
    }

    /// The harness is about to ask the pool for a clear: call it right before
    /// [`crate::PoolUnderTest::clear`]. A `PoolCleared` without such a request is a CLEAR
    /// violation (unless the pool's capabilities explain it).
    pub fn clear_requested(&self) {
        self.with(|s, now| s.oracle.clear_requested(now));
    }

    /// The harness is about to close the pool: call it right before
    /// [`crate::PoolUnderTest::close`], so a checkout that fails with "pool closed" while
    /// the close is under way is not judged unjustified.
    pub fn close_requested(&self) {
        self.with(|s, now| s.oracle.close_requested(now));
    }

    /// The harness acted (`fault` counts it as an injected fault).
    pub fn harness(&self, action: String, fault: bool) {
        self.with(|s, now| {
            if fault {
                s.faults += 1;
            }
            s.trace.push(now, Record::Harness { action });
        });
    }

    /// A task panicked, reported from the panic site: recorded unless the recorder is
    /// busy (the panic came from inside an observation; then the run loop records it).
    pub fn panicked_at_site(&self, panic: &TaskPanic) {
        let Ok(mut state) = self.state.try_lock() else {
            return;
        };
        if !state.finished {
            state.oracle.panicked(panic);
        }
    }

    /// A task panicked.
    pub fn panicked(&self, panic: &TaskPanic) {
        self.with(|s, _| s.oracle.panicked(panic));
    }

    // ===== the run loop =====

    /// A stable point.
    pub fn stable(&self, status: Option<PoolStatus>) {
        self.with(|s, now| s.oracle.stable(now, status.as_ref()));
    }

    /// Time is about to jump to `next`.
    pub fn before_advance(&self, next: Duration) {
        self.with(|s, now| s.oracle.before_advance(now, next));
    }

    /// Nothing can run while `stuck` harness tasks wait.
    pub fn deadlock(&self, stuck: usize) {
        self.with(|s, now| s.oracle.deadlock(now, stuck));
    }

    /// A budget ran out.
    pub fn budget_exceeded(&self, error: &crate::error::SimError) {
        self.with(|s, now| s.oracle.budget_exceeded(now, error));
    }

    /// The workload is over and the pool settled.
    pub fn quiescent(&self, status: Option<PoolStatus>) {
        self.with(|s, now| s.oracle.quiescent(now, status.as_ref()));
    }

    /// The pool was closed and settled.
    pub fn after_close(&self, status: Option<PoolStatus>) {
        self.with(|s, now| s.oracle.after_close(now, status.as_ref()));
    }

    /// Stops recording and hands back what was recorded.
    pub fn finish(&self) -> Recording {
        let mut state = self.lock();
        state.finished = true;
        let trace = std::mem::replace(&mut state.trace, Trace::new(false));
        Recording {
            violations: state.oracle.violations().to_vec(),
            suppressed: state.oracle.suppressed(),
            trace,
            checkouts: state.checkouts,
            faults: state.faults,
            coverage: state.oracle.coverage().clone(),
        }
    }
}

impl EventSink for Recorder {
    fn emit(&self, event: PoolEvent) {
        let task = self.runtime.current_task();
        self.with(|s, now| {
            s.oracle.pool_event_from(now, task, &event);
            s.trace.push(now, Record::Pool { event });
        });
    }
}

impl ManagerObserver for Recorder {
    fn connect_started(&self, id: ConnectionId, task: Option<TaskId>) {
        self.with(|s, now| {
            s.oracle.connect_started(now, id, task);
            s.trace.push(
                now,
                Record::ConnectStarted {
                    id,
                    checkout: s.oracle.checkout_driving(id),
                },
            );
        });
    }

    fn connect_finished(&self, id: ConnectionId, outcome: ConnectOutcome) {
        self.with(|s, now| {
            let text = match &outcome {
                ConnectOutcome::Established => "established".to_string(),
                ConnectOutcome::Abandoned => "abandoned".to_string(),
                ConnectOutcome::Failed(e) => e.clone(),
            };
            s.trace
                .push(now, Record::ConnectEnded { id, outcome: text });
            s.oracle.connect_finished(now, id, &outcome);
        });
    }

    fn connection_dropped(&self, id: ConnectionId) {
        self.with(|s, now| {
            s.trace.push(now, Record::ConnectionDropped { id });
            s.oracle.connection_dropped(now, id);
        });
    }
}

impl NetObserver for Recorder {
    fn server_connection_ended(&self, id: ConnectionId, end: &mock_server::ConnectionEnd) {
        let end = format!("{end:?}");
        self.with(|s, now| s.trace.push(now, Record::ServerEnded { id, end }));
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
