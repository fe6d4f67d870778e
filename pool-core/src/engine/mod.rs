//! The pool engine: admission, the hand-off to waiters, check-in, clear, ready, close.
//!
//! # Implementation details
//!
//! All shared state is three lock-free structures and a few counters:
//!
//! - `state`, one packed `u64` ([`state::State`]): `total`, `pending`, `paused`, `closed`,
//!   `generation`. Creation admission is one CAS on it, so the limits can never be
//!   overshot by a check-then-act race.
//! - `idle`, a bounded FIFO [`Ring`] of available connections (oldest first, so idle
//!   pruning only ever looks at the head).
//! - `shelves`, one single-connection [`Shelf`](shelves::Shelf) per thread slot: a
//!   connection checked in while nobody waits goes onto the checking-in thread's shelf,
//!   and that thread's next checkout takes it from there without touching a cache line
//!   another core writes. Shelved connections are available like those in `idle`: a
//!   checkout looks at its own shelf, then `idle`, then every other shelf, before it
//!   admits a creation or queues.
//! - `waiters`, a bounded FIFO [`Ring`] of queued checkouts ([`Waiter`]s), and
//!   `retries`, a second one (used only with `test_on_borrow`) for checkouts whose
//!   connection failed its validation; dispatch serves it first ([`validate`]).
//!
//! A *resource* is what serves a checkout: an idle connection or a creation permit
//! (admission already counted in `total` and `pending`). Whoever adds a resource or a
//! waiter then calls [`Engine::dispatch`], which pairs resources with waiters from the
//! head of the queue until one side runs out. Dispatch runs on whichever thread calls it;
//! several may run at once, because each step (pop a resource, pop a waiter, deliver) is
//! atomic on its own and every failed step puts its resource back and retries.
//!
//! Labels here are the engine's (`ENG-I1` … `ENG-I8` in `INVARIANTS.md`, which also
//! registers the submodules' `RING-`, `WAIT-`, `SHELF-`, `CLAIM-`, `INT-` and `VAL-` labels); a
//! label written `CMAP …` (`CMAP L4`, `CMAP S4`) is a CMAP rule (`CMAP-` there).
//!
//! Invariants (numbered for the `debug_assert!`s, loom models and sim oracles that check
//! them):
//!
//! - **I1** `total <= total_max`: admission is a CAS that checks it.
//! - **I2** `pending <= max_connecting` and `pending <= total`: same CAS.
//! - **I3** Every connection is in exactly one place: pending (its establishing task),
//!   available (in `idle` or on a shelf), granted (inside one waiter's grant), validating
//!   (one checkout's validation guard), or in use (one
//!   [`PooledConnection`](crate::PooledConnection));
//!   `idle.len() + shelved <= total - pending`.
//! - **I4** No lost wake-up: each push to `idle`, a shelf or `waiters` and each release of a
//!   `total`/`pending` unit is followed, on the same thread, by a `dispatch` that starts
//!   with a SeqCst fence; so of a resource-adder and a waiter-adder racing, at least one
//!   sees the other.
//! - **I5** FIFO: a checkout queues whenever the queue is non-empty, and resources go to
//!   the head of the queue only; a newcomer never overtakes a queued waiter. A checkout
//!   whose connection failed its validation was already served in turn: it takes what is
//!   at hand without queueing, and queues again only when nothing is (`validate`, V3).
//! - **I6** No stale hand-out: a connection is compared with the current generation
//!   when it leaves `idle` and again just before it is handed to its user.
//! - **I7** A paused or closed pool has no waiters once every dispatch returned: dispatch
//!   fails them all (CMAP L4, S5).
//! - **I8** No grant is held for ever by a checkout nobody polls: with a `claim_timeout`,
//!   every granted waiter goes onto the claim watch list ([`claims`]), and a grant still
//!   unclaimed `claim_timeout` after the first sweep that saw it unclaimed (so at least
//!   `claim_timeout` and at most one sweep period more after delivery) is taken back and
//!   dispatched again.
//!
//! This module docs' list is the one definition of I1–I8; every file below names the ones
//! it keeps in its own module docs, and the `debug_assert!`s cite them by label.
//!
//! # Where things are
//!
//! | file | what it holds | keeps |
//! |---|---|---|
//! | `mod.rs` | the shared types, [`Engine`] and its read-only queries | I3 (status), I6 (`perished`) |
//! | [`checkout`] | a whole checkout, from its start to the hand-out or the failure | I3, I5, I6, I8 |
//! | [`validate`] | test-on-borrow: validating a connection at checkout under a guard, and the checkout's retry after a failure | I3, I4, I5, V1–V3 |
//! | [`futures`] | the two futures a checkout awaits: its wait in the queue and its establishment; each returns what it holds when dropped | I5, I8, K11 |
//! | [`admission`] | the queue-free attempt, queueing, cancelling, taking an available connection, admitting a creation | I1, I2, I3, I4, I5 |
//! | [`dispatch`] | pairing resources with waiters, putting resources back | I2, I3, I4, I5, I7 |
//! | [`connections`] | starting and settling an establishment, check-in, making a connection available, closing one | I2, I3, I4, I5, T1 |
//! | [`lifecycle`] | ready, clear, close | I4, I7 |
//! | [`claim_watch`] | the claim watch list: watching a grant, unwatching it, sweeping | I4, I8 |
//! | [`lanes`] | a thread slot's share of the engine and its spare waiter | I3, I5 |
//! | [`signal`] | the one-bit wake-up of the background tasks | SG1, SG2 (its own), for I8 |
//! | [`backoff`] | the bounded spin-then-yield wait of every retry loop | BK1, BK2 (its own) |
//!
//! The lock-free structures these build on keep invariants of their own, defined in their
//! files: [`state`] (the packed word), [`ring`] (R1–R3), [`waiter`] (W1–W3), [`shelves`]
//! (S1–S3), [`claims`] (C1–C4), [`interrupt`] (T1–T2), [`atomic_waker`]; [`validate`]
//! keeps V1–V3 for a connection under validation.

pub(crate) mod admission;
pub(crate) mod atomic_waker;
pub(crate) mod backoff;
pub(crate) mod checkout;
pub(crate) mod claim_watch;
pub(crate) mod claims;
pub(crate) mod connections;
pub(crate) mod dispatch;
pub(crate) mod futures;
pub(crate) mod interrupt;
pub(crate) mod lanes;
pub(crate) mod lifecycle;
pub(crate) mod ring;
pub(crate) mod shelves;
pub(crate) mod signal;
pub(crate) mod state;
pub(crate) mod validate;
pub(crate) mod waiter;

use std::sync::atomic::Ordering::{Acquire, Relaxed, SeqCst};
use std::sync::Arc;
use std::time::Duration;

use crate::event::{CmapEvent, ConnectionClosedReason, ConnectionId, EventHandler};
use crate::manager::Manager;
use crate::options::PoolOptions;
use crate::runtime::Runtime;
use crate::status::{Counters, Status};
use crate::sync::{AtomicOps, Backend, CachePadded};
use crate::wait_times::WaitHistogram;

pub(crate) use self::connections::Origin;
use self::interrupt::Interrupts;
use self::lanes::Lane;
use self::ring::Ring;
use self::shelves::Lanes;
pub(crate) use self::signal::Signal;
use self::state::State;
use self::waiter::Waiter;

/// A connection with the pool's bookkeeping, boxed: the record stays put for the
/// connection's whole life and a checkout, a check-in, a shelf or a ring moves one
/// pointer (an unboxed record of a one-word connection is seven words, copied at every
/// hand-over between a shelf, a checkout's result and a guard).
pub(crate) type Entry<C> = Box<Record<C>>;

/// A connection with the pool's bookkeeping (always behind an [`Entry`]).
pub(crate) struct Record<C> {
    pub(crate) conn: C,
    pub(crate) id: ConnectionId,
    pub(crate) generation: u64,
    /// When it was created (runtime time), for `max_lifetime`.
    pub(crate) created: Duration,
    /// When it last became available, for `max_idle_time`.
    pub(crate) idle_since: Duration,
}

/// An admitted creation: one unit of `total` and of `pending`, taken at `generation`.
#[derive(Debug)]
pub(crate) struct Permit {
    pub(crate) generation: u64,
}

/// What serves a checkout.
pub(crate) enum Resource<C> {
    Idle(Entry<C>),
    Create(Permit),
}

/// Why a queued checkout was failed by the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Closed,
    Cleared { generation: u64 },
}

/// What a waiter is handed.
pub(crate) enum Grant<C> {
    Ready(Resource<C>),
    Refused(Refusal),
}

/// The result of a checkout's first, queue-free attempt.
pub(crate) enum Fast<C> {
    /// A resource; `true` if the checkout is already counted (taken from the thread's
    /// own shelf, see `Shelf::counted`).
    Got(Resource<C>, bool),
    Queue,
    Refused(Refusal),
}

pub(crate) type WaiterOf<M, B> = Waiter<Grant<<M as Manager>::Connection>, B>;

/// The shared heart of a pool.
///
/// Aligned to 128 bytes so that the `Arc`'s reference counts (written by every checkout's
/// guard) sit on their own line, apart from the read-mostly fields below; the fields that
/// are written on every checkout are padded the same way.
#[repr(align(128))]
pub(crate) struct Engine<M: Manager, B: Backend> {
    pub(crate) manager: M,
    pub(crate) options: PoolOptions,
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) events: Option<Arc<dyn EventHandler>>,
    pub(crate) address: Arc<str>,
    /// `options.total_max()`, read on every admission.
    total_max: u32,
    /// The packed state word (I1, I2).
    state: CachePadded<B::AtomicU64>,
    /// Available connections, oldest first.
    idle: Ring<Entry<M::Connection>, B>,
    /// Per-thread slots: a shelf of one more available connection, the thread's part of the
    /// claim watch list, and its waiter counts.
    lanes: Lanes<Lane<M, B>>,
    /// Queued checkouts, oldest first (I5).
    waiters: Ring<Arc<WaiterOf<M, B>>, B>,
    /// Checkouts whose connection failed its validation and that found nothing at hand:
    /// they keep their turn, ahead of `waiters` (I5, `validate` V3). Capacity 1 unless
    /// `test_on_borrow` is on.
    retries: Ring<Arc<WaiterOf<M, B>>, B>,
    /// The last connection id handed out.
    next_id: B::AtomicU64,
    /// Connections of a generation below this were interrupted by a clear.
    interrupt_before: B::AtomicU64,
    pub(crate) interrupts: Interrupts<B>,
    /// Wakes the maintenance task early (after clear and ready).
    pub(crate) maintenance: Arc<Signal<B>>,
    /// Wakes the claim watcher when the watch list stops being empty.
    pub(crate) claim_signal: Arc<Signal<B>>,
    pub(crate) counters: CachePadded<Counters<B>>,
    /// True when idle/lifetime checks need timestamps.
    needs_clock: bool,
}

impl<M: Manager, B: Backend> Engine<M, B> {
    pub(crate) fn new(
        manager: M,
        options: PoolOptions,
        runtime: Arc<dyn Runtime>,
        events: Option<Arc<dyn EventHandler>>,
        address: Arc<str>,
    ) -> Self {
        let total_max = options.total_max();
        // Test-on-borrow needs `idle_since` to tell whether a connection is past its bypass.
        let needs_clock = options.max_idle_time.is_some()
            || options.max_lifetime.is_some()
            || options.test_on_borrow;
        let engine = Engine {
            idle: Ring::new(total_max as usize),
            lanes: Lanes::new(B::shelf_count(), Lane::new),
            waiters: Ring::new(options.waiters_max as usize),
            retries: Ring::new(if options.test_on_borrow {
                total_max as usize
            } else {
                1
            }),
            interrupts: Interrupts::new(options.max_connecting as usize),
            total_max,
            manager,
            options,
            runtime,
            events,
            address,
            state: CachePadded(B::AtomicU64::new(State::INITIAL.0)),
            next_id: B::AtomicU64::new(0),
            interrupt_before: B::AtomicU64::new(0),
            maintenance: Arc::new(Signal::new()),
            claim_signal: Arc::new(Signal::new()),
            counters: CachePadded(Counters::new()),
            needs_clock,
        };
        debug_assert!(
            engine.idle.capacity() == total_max as usize && engine.state().paused(),
            "I3: idle holds every connection the pool may have; a new pool is paused"
        );
        engine
    }

    // ===== reading =====

    #[inline]
    pub(crate) fn state(&self) -> State {
        State(self.state.load(SeqCst))
    }

    #[inline]
    pub(crate) fn now(&self) -> Duration {
        self.runtime.now()
    }

    /// Calls the event handler, if any, with the event `make` builds.
    #[inline]
    pub(crate) fn emit(&self, make: impl FnOnce(Arc<str>) -> CmapEvent) {
        if let Some(handler) = &self.events {
            handler.handle(&make(self.address.clone()));
        }
    }

    /// The calling thread's lane.
    #[inline(always)]
    fn lane(&self) -> &Lane<M, B> {
        self.lanes.mine::<B>()
    }

    /// A consistent-enough snapshot: counts come from one load of the state word.
    pub(crate) fn status(&self) -> Status {
        let s = self.state();
        debug_assert!(
            s.pending() <= s.total() && s.total() <= self.total_max,
            "I1, I2: pending {} <= total {} <= total_max {}",
            s.pending(),
            s.total(),
            self.total_max
        );
        let shelved = self.lanes.iter().filter(|l| l.shelf.is_occupied()).count();
        let available = (self.idle.len() + shelved) as u32;
        let (queued, left) = self.lanes.iter().fold((0u64, 0u64), |(q, l), lane| {
            (q + lane.queued.load(Relaxed), l + lane.left.load(Relaxed))
        });
        let in_use = s
            .total()
            .saturating_sub(s.pending())
            .saturating_sub(available);
        let mut counters = self.counters.snapshot();
        counters.checked_out += self
            .lanes
            .iter()
            .map(|lane| lane.shelf.counted.load(Relaxed))
            .sum::<u64>();
        Status {
            total: s.total(),
            available,
            pending: s.pending(),
            in_use,
            waiters: queued.saturating_sub(left) as u32,
            generation: s.generation(),
            paused: s.paused(),
            closed: s.closed(),
            counters,
            wait_times: WaitHistogram::merged(
                &self.lanes.iter().map(|lane| &lane.wait).collect::<Vec<_>>(),
                counters.checked_out,
            ),
        }
    }

    /// The reason `entry` must not be handed out or kept, if any (CMAP P1–P3).
    #[inline(always)]
    pub(crate) fn perished(
        &self,
        entry: &Entry<M::Connection>,
        s: State,
    ) -> Option<ConnectionClosedReason> {
        if s.closed() {
            return Some(ConnectionClosedReason::PoolClosed);
        }
        if entry.generation != s.generation() {
            return Some(ConnectionClosedReason::Stale);
        }
        if self.needs_clock {
            let now = self.now();
            if let Some(max_idle) = self.options.max_idle_time {
                if now.saturating_sub(entry.idle_since) > max_idle {
                    return Some(ConnectionClosedReason::Idle);
                }
            }
            if let Some(lifetime) = self.options.max_lifetime {
                if now.saturating_sub(entry.created) >= self.lifetime_of(entry.id, lifetime) {
                    return Some(ConnectionClosedReason::Expired);
                }
            }
        }
        None
    }

    /// `lifetime` minus this connection's deterministic jitter.
    fn lifetime_of(&self, id: ConnectionId, lifetime: Duration) -> Duration {
        let jittered = match self.options.max_lifetime_jitter {
            Some(jitter) if !jitter.is_zero() => {
                // SplitMix64 of the id: spread, deterministic, no RNG state.
                let mut z = id.wrapping_add(0x9E37_79B9_7F4A_7C15);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                let cut = jitter.as_nanos() as u64;
                lifetime - Duration::from_nanos(z % cut.max(1))
            }
            _ => lifetime,
        };
        debug_assert!(jittered <= lifetime, "jitter only shortens a lifetime");
        jittered
    }

    /// True if a clear with `interrupt_in_use_connections` covered this generation.
    pub(crate) fn is_interrupted(&self, generation: u64) -> bool {
        generation < self.interrupt_before.load(Acquire)
    }
}

impl<M: Manager, B: Backend> Drop for Engine<M, B> {
    fn drop(&mut self) {
        // Wake the background tasks so they see the engine is gone and exit.
        self.maintenance.notify();
        self.claim_signal.notify();
    }
}
