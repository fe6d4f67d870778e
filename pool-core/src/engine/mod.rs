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
//! - `waiters`, a bounded FIFO [`Ring`] of queued checkouts ([`Waiter`]s).
//!
//! A *resource* is what serves a checkout: an idle connection or a creation permit
//! (admission already counted in `total` and `pending`). Whoever adds a resource or a
//! waiter then calls [`Engine::dispatch`], which pairs resources with waiters from the
//! head of the queue until one side runs out. Dispatch runs on whichever thread calls it;
//! several may run at once, because each step (pop a resource, pop a waiter, deliver) is
//! atomic on its own and every failed step puts its resource back and retries.
//!
//! Labels here are the engine's (`ENG-I1` … `ENG-I8` in `INVARIANTS.md`, which also
//! registers the submodules' `RING-`, `WAIT-`, `SHELF-`, `CLAIM-` and `INT-` labels); a
//! label written `CMAP …` (`CMAP L4`, `CMAP S4`) is a CMAP rule (`CMAP-` there).
//!
//! Invariants (numbered for the `debug_assert!`s, loom models and sim oracles that check
//! them):
//!
//! - **I1** `total <= total_max`: admission is a CAS that checks it.
//! - **I2** `pending <= max_connecting` and `pending <= total`: same CAS.
//! - **I3** Every connection is in exactly one place: pending (its establishing task),
//!   available (in `idle` or on a shelf), granted (inside one waiter's grant), or in use
//!   (one [`PooledConnection`](crate::PooledConnection));
//!   `idle.len() + shelved <= total - pending`.
//! - **I4** No lost wake-up: each push to `idle`, a shelf or `waiters` and each release of a
//!   `total`/`pending` unit is followed, on the same thread, by a `dispatch` that starts
//!   with a SeqCst fence; so of a resource-adder and a waiter-adder racing, at least one
//!   sees the other.
//! - **I5** FIFO: a checkout queues whenever the queue is non-empty, and resources go to
//!   the head of the queue only; a newcomer never overtakes a queued waiter.
//! - **I6** No stale hand-out: a connection is compared with the current generation
//!   when it leaves `idle` and again just before it is handed to its user.
//! - **I7** A paused or closed pool has no waiters once every dispatch returned: dispatch
//!   fails them all (CMAP L4, S5).
//! - **I8** No grant is held for ever by a checkout nobody polls: with a `claim_timeout`,
//!   every granted waiter goes onto the claim watch list ([`claims`]), and a grant still
//!   unclaimed `claim_timeout` after the first sweep that saw it unclaimed (so at least
//!   `claim_timeout` and at most one sweep period more after delivery) is taken back and
//!   dispatched again.

pub(crate) mod atomic_waker;
pub(crate) mod claims;
pub(crate) mod interrupt;
pub(crate) mod ring;
pub(crate) mod shelves;
pub(crate) mod state;
pub(crate) mod waiter;

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::sync::Arc;
use std::time::Duration;

use crate::event::{CmapEvent, ConnectionClosedReason, ConnectionId, EventHandler};
use crate::manager::Manager;
use crate::options::PoolOptions;
use crate::runtime::Runtime;
use crate::status::{Counters, Status};
use crate::sync::{AtomicOps, Backend, CachePadded};

use self::atomic_waker::AtomicWaker;
use self::claims::ClaimList;
use self::interrupt::Interrupts;
use self::ring::Ring;
use self::shelves::{Lanes, Shelf};
use self::state::State;
use self::waiter::{Cancelled, Waiter};

/// A connection with the pool's bookkeeping.
pub(crate) struct Entry<C> {
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

/// A thread slot's share of the engine, on cache lines of its own (see `shelves`): written
/// mostly by the threads of that slot.
pub(crate) struct Lane<M: Manager, B: Backend> {
    /// One available connection kept for this thread's next checkout. Padded apart from
    /// the fields below, which this thread writes on every queued checkout, because other
    /// threads read every shelf before they queue.
    shelf: CachePadded<Shelf<Entry<M::Connection>, B>>,
    /// Waiters granted by dispatches on this thread, until the claim watcher looks (I8).
    claims: ClaimList<Grant<M::Connection>, B>,
    /// Checkouts this thread queued.
    queued: B::AtomicU64,
    /// Waiters that left the queue through this thread (granted here, or cancelled here);
    /// the sum of `queued` minus the sum of `left` is the number of live waiters.
    left: B::AtomicU64,
    /// A spare waiter (an `Arc::into_raw` pointer, or 0) for this thread's next queued
    /// checkout: a claimed waiter that nothing else references is reset and kept here
    /// instead of going back to the allocator.
    spare: B::AtomicUsize,
}

impl<M: Manager, B: Backend> Drop for Lane<M, B> {
    fn drop(&mut self) {
        let spare = self.spare.swap(0, Acquire);
        if spare != 0 {
            // SAFETY: a non-zero `spare` is an `Arc::into_raw` pointer whose count the lane
            // owns (see `Engine::recycle`); the swap made us its only owner.
            drop(unsafe { Arc::from_raw(spare as *const WaiterOf<M, B>) });
        }
    }
}

impl<M: Manager, B: Backend> Lane<M, B> {
    fn new() -> Self {
        Lane {
            shelf: CachePadded(Shelf::new()),
            claims: ClaimList::new(),
            queued: B::AtomicU64::new(0),
            left: B::AtomicU64::new(0),
            spare: B::AtomicUsize::new(0),
        }
    }
}

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
        let needs_clock = options.max_idle_time.is_some() || options.max_lifetime.is_some();
        Engine {
            idle: Ring::new(total_max as usize),
            lanes: Lanes::new(B::shelf_count(), Lane::new),
            waiters: Ring::new(options.waiters_max as usize),
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
        }
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
            handler.handle(make(self.address.clone()));
        }
    }

    #[inline]
    pub(crate) fn has_events(&self) -> bool {
        self.events.is_some()
    }

    /// The calling thread's lane.
    #[inline(always)]
    fn lane(&self) -> &Lane<M, B> {
        self.lanes.mine::<B>()
    }

    /// A consistent-enough snapshot: counts come from one load of the state word.
    pub(crate) fn status(&self) -> Status {
        let s = self.state();
        let shelved = self.lanes.iter().filter(|l| l.shelf.is_occupied()).count();
        let available = (self.idle.len() + shelved) as u32;
        let (queued, left) = self.lanes.iter().fold((0u64, 0u64), |(q, l), lane| {
            (q + lane.queued.load(Relaxed), l + lane.left.load(Relaxed))
        });
        let in_use = s
            .total()
            .saturating_sub(s.pending())
            .saturating_sub(available);
        Status {
            total: s.total(),
            available,
            pending: s.pending(),
            in_use,
            waiters: queued.saturating_sub(left) as u32,
            generation: s.generation(),
            paused: s.paused(),
            closed: s.closed(),
            counters: {
                let mut counters = self.counters.snapshot();
                counters.checked_out += self
                    .lanes
                    .iter()
                    .map(|lane| lane.shelf.counted.load(Relaxed))
                    .sum::<u64>();
                counters
            },
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
        match self.options.max_lifetime_jitter {
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
        }
    }

    /// True if a clear with `interrupt_in_use_connections` covered this generation.
    pub(crate) fn is_interrupted(&self, generation: u64) -> bool {
        generation < self.interrupt_before.load(Acquire)
    }

    // ===== checkout side =====

    /// The queue-free attempt: refuse, take a resource, or tell the caller to queue.
    #[inline]
    pub(crate) fn try_fast(&self) -> Fast<M::Connection> {
        let s = self.state();
        if s.closed() {
            return Fast::Refused(Refusal::Closed);
        }
        if s.paused() {
            return Fast::Refused(Refusal::Cleared {
                generation: s.generation(),
            });
        }
        if !self.waiters.is_empty() {
            return Fast::Queue; // I5: never overtake a queued waiter.
        }
        // The thread's own shelf first, counting the checkout there when it is served.
        let shelved = self
            .lane()
            .shelf
            .take_counted(|entry| self.perished(entry, self.state()).is_none());
        if let Some(taken) = shelved {
            match taken {
                Ok(entry) => return Fast::Got(Resource::Idle(entry), true),
                Err(entry) => {
                    let reason = self
                        .perished(&entry, self.state())
                        .unwrap_or(ConnectionClosedReason::Stale);
                    self.close_live(entry, reason);
                }
            }
        }
        match self.take_available_shared() {
            Some(entry) => Fast::Got(Resource::Idle(entry), false),
            None => match self.admit() {
                Some(permit) => Fast::Got(Resource::Create(permit), false),
                None => Fast::Queue,
            },
        }
    }

    /// Queues a new waiter and dispatches (I4). `Err` when the queue is full.
    pub(crate) fn enqueue(&self) -> Result<Arc<WaiterOf<M, B>>, ()> {
        let waiter = match self.lane().spare.swap(0, Acquire) {
            0 => Arc::new(Waiter::new()),
            // SAFETY: a non-zero `spare` is an `Arc::into_raw` pointer whose count the lane
            // owned (see `recycle`); the swap handed that count to us alone.
            spare => unsafe { Arc::from_raw(spare as *const WaiterOf<M, B>) },
        };
        if self.waiters.push(waiter.clone()).is_err() {
            return Err(());
        }
        self.lane().queued.fetch_add(1, Relaxed);
        self.dispatch();
        Ok(waiter)
    }

    /// After `waiter`'s checkout claimed its grant: takes it off the claim watch list if it
    /// is still on top there (C4), then keeps it as the lane's spare if nothing else
    /// references it.
    #[inline]
    pub(crate) fn claimed(&self, mut waiter: Arc<WaiterOf<M, B>>) {
        let watched_on = waiter.watched_on.load(Relaxed);
        if watched_on != 0 {
            self.lanes.get(watched_on - 1).claims.unlink_top(&waiter);
        }
        if let Some(unique) = Arc::get_mut(&mut waiter) {
            *unique = Waiter::new();
            let raw = Arc::into_raw(waiter) as usize;
            if self
                .lane()
                .spare
                .compare_exchange(0, raw, Release, Relaxed)
                .is_err()
            {
                // SAFETY: `raw` came from `Arc::into_raw` just above and was not stored.
                drop(unsafe { Arc::from_raw(raw as *const WaiterOf<M, B>) });
            }
        }
    }

    /// Gives up on `waiter`; returns the grant if one beat the cancel (W2).
    pub(crate) fn cancel(&self, waiter: &WaiterOf<M, B>) -> Option<Grant<M::Connection>> {
        match waiter.cancel() {
            Cancelled::Waiting => {
                self.lane().left.fetch_add(1, Relaxed);
                None
            }
            Cancelled::Granted(grant) => Some(grant),
            Cancelled::Reclaimed => None, // already back in the pool (I8)
        }
    }

    /// One pass of the claim watcher (I8): takes back every grant unclaimed for
    /// `claim_timeout`, returns it to the pool, and dispatches. Returns when to look
    /// again, or `None` when nothing is left to watch.
    pub(crate) fn sweep_claims(&self) -> Option<Duration> {
        let timeout = self.options.claim_timeout?;
        let now = self.now();
        // Look again within a short period even if every grant is young: settled
        // waiters are freed only by a sweep, so a busy pool must not pile them up.
        let soonest = now + timeout.min(CLAIM_SWEEP_PERIOD_MAX);
        let mut next: Option<Duration> = None;
        let mut returned = false;
        let watched: Vec<_> = self
            .lanes
            .iter()
            .flat_map(|l| l.claims.take_all())
            .collect();
        for waiter in watched {
            if !waiter.is_unclaimed() {
                continue; // claimed, or given up and taken: the list's count drops here
            }
            // A grant's clock starts at the first sweep that finds it unclaimed, which is
            // at most one sweep period after delivery (the first push onto an empty list
            // wakes the watcher at once), so the dispatcher never reads the clock.
            let now_nanos = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
            let due = Duration::from_nanos(waiter.first_seen(now_nanos)) + timeout;
            if due <= now {
                if let Some(grant) = waiter.reclaim() {
                    self.counters.reclaimed.fetch_add(1, Relaxed);
                    if let Grant::Ready(resource) = grant {
                        self.release(resource);
                        returned = true;
                    }
                }
            } else {
                next = Some(next.map_or(due, |n| n.min(due)));
                let (i, lane) = self.lanes.mine_indexed::<B>();
                waiter.watched_on.store(i + 1, Relaxed);
                lane.claims.push(waiter);
            }
        }
        if returned {
            self.dispatch(); // I4
        }
        if self.lanes.iter().all(|l| l.claims.is_empty()) {
            next
        } else {
            Some(next.map_or(soonest, |n| n.min(soonest)))
        }
    }

    /// Returns an unused grant to the pool (CMAP K11).
    pub(crate) fn give_back(&self, grant: Grant<M::Connection>) {
        if let Grant::Ready(resource) = grant {
            self.release(resource);
            self.dispatch();
        }
    }

    /// CMAP K5: a queued checkout that was granted a creation permit takes a connection that
    /// became available since (say the second of two populated connections that finished
    /// together) instead of creating one; the permit goes back to the pool.
    pub(crate) fn prefer_idle(&self, resource: Resource<M::Connection>) -> Resource<M::Connection> {
        let Resource::Create(permit) = resource else {
            return resource;
        };
        match self.take_available() {
            Some(entry) => {
                self.release(Resource::Create(permit));
                self.dispatch(); // I4
                Resource::Idle(entry)
            }
            None => {
                self.dispatch(); // I4: perished connections may have been closed
                Resource::Create(permit)
            }
        }
    }

    /// Takes an idle connection (closing perished ones on the way) or admits a creation.
    #[inline(always)]
    pub(crate) fn reserve(&self) -> Option<Resource<M::Connection>> {
        match self.take_available() {
            Some(entry) => Some(Resource::Idle(entry)),
            None => self.admit().map(Resource::Create),
        }
    }

    /// Takes an available connection, closing perished ones on the way: the thread's own
    /// shelf first, then `idle` (oldest first), then the other shelves. The caller
    /// dispatches if it released anything (I4).
    #[inline(always)]
    fn take_available(&self) -> Option<Entry<M::Connection>> {
        if let Some(entry) = self.lane().shelf.take() {
            match self.perished(&entry, self.state()) {
                Some(reason) => self.close_live(entry, reason),
                None => return Some(entry),
            }
        }
        self.take_available_shared()
    }

    /// [`Engine::take_available`] past the thread's own shelf.
    fn take_available_shared(&self) -> Option<Entry<M::Connection>> {
        // `is_empty` first: a pop of an empty ring pays a fence to tell empty from stale.
        while let Some(entry) = (!self.idle.is_empty())
            .then(|| self.idle.pop())
            .flatten()
            .or_else(|| self.lanes.others::<B>().find_map(|l| l.shelf.take()))
        {
            match self.perished(&entry, self.state()) {
                Some(reason) => self.close_live(entry, reason),
                None => return Some(entry),
            }
        }
        None
    }

    /// Admits one creation if the pool is ready and both limits allow it (I1, I2).
    #[inline]
    pub(crate) fn admit(&self) -> Option<Permit> {
        let max_connecting = self.options.max_connecting;
        let mut current = self.state.load(Acquire);
        loop {
            let s = State(current);
            if s.paused()
                || s.closed()
                || s.total() >= self.total_max
                || s.pending() >= max_connecting
            {
                return None;
            }
            let next = s.with_created();
            debug_assert!(
                next.total() <= self.total_max,
                "I1: total {} > max {}",
                next.total(),
                self.total_max
            );
            debug_assert!(
                next.pending() <= max_connecting,
                "I2: pending {} > maxConnecting",
                next.pending()
            );
            match self
                .state
                .compare_exchange(current, next.0, AcqRel, Acquire)
            {
                Ok(_) => {
                    return Some(Permit {
                        generation: s.generation(),
                    })
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Pops the oldest available connection (maintenance only).
    pub(crate) fn pop_idle(&self) -> Option<Entry<M::Connection>> {
        self.idle.pop()
    }

    /// Moves every shelved connection to `idle`, so that maintenance sees them all
    /// (maintenance only; the caller dispatches, I4).
    pub(crate) fn unshelve_all(&self) {
        while let Some(entry) = self.lanes.iter().find_map(|l| l.shelf.take()) {
            self.release(Resource::Idle(entry));
        }
    }

    /// Puts a connection popped by [`Engine::pop_idle`] back; the caller dispatches (I4).
    pub(crate) fn push_idle(&self, entry: Entry<M::Connection>) {
        self.release(Resource::Idle(entry));
    }

    /// Puts a resource back without dispatching; the caller dispatches (I4).
    #[inline]
    fn release(&self, resource: Resource<M::Connection>) {
        match resource {
            Resource::Idle(entry) => {
                if let Err(entry) = self.idle.push(entry) {
                    // I3 bounds idle by total <= capacity, so this is unreachable; stay safe.
                    debug_assert!(
                        false,
                        "I3: idle ring full with {} slots",
                        self.idle.capacity()
                    );
                    self.close_live(entry, ConnectionClosedReason::Error);
                }
            }
            Resource::Create(_permit) => self.release_units(State::TOTAL_ONE + State::PENDING_ONE),
        }
    }

    /// Drops units of `total`/`pending`; the caller dispatches (I4).
    #[inline]
    pub(crate) fn release_units(&self, units: u64) {
        let before = State(self.state.fetch_sub(units, AcqRel));
        let after = State(before.0.wrapping_sub(units));
        debug_assert!(
            units & State::TOTAL_ONE == 0 || before.total() >= 1,
            "I3: total underflow"
        );
        debug_assert!(
            units & State::PENDING_ONE == 0 || before.pending() >= 1,
            "I2: pending underflow"
        );
        debug_assert!(
            after.pending() <= after.total(),
            "I2: pending {} > total {}",
            after.pending(),
            after.total()
        );
    }

    /// Pairs resources with waiters until one side runs out (see the module docs).
    #[inline]
    pub(crate) fn dispatch(&self) {
        loop {
            // I4: every pass starts with a fence, because the previous pass may have
            // published a resource (a release) that a racing enqueuer must see, or must
            // see its waiter.
            B::fence(SeqCst);
            let s = self.state();
            if s.closed() {
                self.drain_closed();
                return;
            }
            if self.waiters.is_empty() {
                return;
            }
            if s.paused() {
                self.refuse_waiters(Refusal::Cleared {
                    generation: s.generation(),
                });
                return;
            }
            let Some(resource) = self.reserve() else {
                return;
            };
            match self.waiters.pop() {
                Some(waiter) => match self.deliver(&waiter, Grant::Ready(resource)) {
                    Ok(()) => self.watch(waiter),
                    Err(grant) => {
                        // W2: the waiter was cancelled first; the grant is the one we gave.
                        if let Grant::Ready(resource) = grant {
                            self.release(resource);
                        }
                    }
                },
                None => {
                    // The head waiter is still being published by its pusher, which will
                    // dispatch; put the resource back and look again.
                    self.release(resource);
                    B::spin_loop();
                }
            }
        }
    }

    /// Puts a granted waiter on the claim watch list (I8).
    #[inline]
    fn watch(&self, waiter: Arc<WaiterOf<M, B>>) {
        if self.options.claim_timeout.is_none() {
            return;
        }
        let (i, lane) = self.lanes.mine_indexed::<B>();
        waiter.watched_on.store(i + 1, Relaxed);
        if lane.claims.push(waiter) {
            self.claim_signal.notify();
        }
    }

    fn deliver(
        &self,
        waiter: &WaiterOf<M, B>,
        grant: Grant<M::Connection>,
    ) -> Result<(), Grant<M::Connection>> {
        let result = waiter.deliver(grant);
        if result.is_ok() {
            self.lane().left.fetch_add(1, Relaxed);
        }
        result
    }

    /// Fails every queued waiter (I7).
    fn refuse_waiters(&self, refusal: Refusal) {
        while let Some(waiter) = self.waiters.pop() {
            // A cancelled waiter gives the refusal back; nothing to return.
            let _ = self.deliver(&waiter, Grant::Refused(refusal));
        }
    }

    /// On a closed pool: close every available connection and fail every waiter.
    fn drain_closed(&self) {
        while let Some(entry) = self
            .idle
            .pop()
            .or_else(|| self.lanes.iter().find_map(|l| l.shelf.take()))
        {
            self.close_live(entry, ConnectionClosedReason::PoolClosed);
        }
        self.refuse_waiters(Refusal::Closed);
    }

    // ===== connections =====

    /// The next connection id (1, 2, …).
    pub(crate) fn next_id(&self) -> ConnectionId {
        self.next_id.fetch_add(1, Relaxed) + 1
    }

    /// Closes an established connection: `total - 1`, then the event, then the manager.
    /// The caller dispatches (I4).
    #[inline]
    pub(crate) fn close_live(&self, entry: Entry<M::Connection>, reason: ConnectionClosedReason) {
        self.close_with_units(entry, reason, State::TOTAL_ONE);
    }

    /// Closes a connection and releases `units` in one step (a just-established
    /// connection still holds its `pending` unit, which must go with its `total`, I2).
    fn close_with_units(
        &self,
        entry: Entry<M::Connection>,
        reason: ConnectionClosedReason,
        units: u64,
    ) {
        self.release_units(units);
        self.counters.closed.fetch_add(1, Relaxed);
        let id = entry.id;
        self.emit(|address| CmapEvent::ConnectionClosed {
            address,
            connection_id: id,
            reason,
        });
        self.manager.close(entry.conn);
    }

    /// Makes an established connection available (check-in, populate, abandoned
    /// establishment), or closes it if it perished meanwhile.
    #[inline]
    pub(crate) fn make_available(&self, mut entry: Entry<M::Connection>) {
        // The idle clock restarts now (CMAP I3): time spent in use is not idle time.
        if self.needs_clock {
            entry.idle_since = self.now();
        }
        match self.perished(&entry, self.state()) {
            Some(reason) => self.close_live(entry, reason),
            // Nobody waiting: keep it on this thread's shelf for this thread's next
            // checkout. The dispatch below still hands it to a waiter that queued
            // meanwhile (I4).
            None if self.waiters.is_empty() => {
                if let Err(entry) = self.lane().shelf.put(entry) {
                    self.release(Resource::Idle(entry));
                }
            }
            None => self.hand_off(entry),
        }
        self.dispatch();
    }

    /// Gives a checked-in connection straight to the head waiter (I5), saving the trip
    /// through `idle`; if the head was cancelled or is still being published, the
    /// connection goes to `idle` instead. The caller dispatches (I4).
    #[inline]
    fn hand_off(&self, entry: Entry<M::Connection>) {
        let Some(waiter) = self.waiters.pop() else {
            self.release(Resource::Idle(entry));
            return;
        };
        match self.deliver(&waiter, Grant::Ready(Resource::Idle(entry))) {
            Ok(()) => self.watch(waiter),
            Err(grant) => {
                // W2: cancelled first; the grant is the one we gave.
                if let Grant::Ready(resource) = grant {
                    self.release(resource);
                }
            }
        }
    }

    /// Makes a connection that was just established in the background (populate, or an
    /// abandoned checkout) available, releasing its `pending` unit: after it is in `idle`
    /// (CMAP K10), or together with its `total` unit if it perished meanwhile (I2).
    pub(crate) fn make_available_from_pending(&self, mut entry: Entry<M::Connection>) {
        if self.needs_clock {
            entry.idle_since = self.now();
        }
        match self.perished(&entry, self.state()) {
            Some(reason) => {
                self.close_with_units(entry, reason, State::TOTAL_ONE + State::PENDING_ONE)
            }
            None => {
                self.release(Resource::Idle(entry));
                self.release_units(State::PENDING_ONE);
            }
        }
        self.dispatch();
    }

    /// Check-in (CMAP I1–I3): event first, then close or make available.
    #[inline]
    pub(crate) fn check_in(&self, entry: Entry<M::Connection>, errored: bool) {
        let id = entry.id;
        self.emit(|address| CmapEvent::ConnectionCheckedIn {
            address,
            connection_id: id,
        });
        if errored && !self.state().closed() {
            self.close_live(entry, ConnectionClosedReason::Error);
            self.dispatch();
            return;
        }
        self.make_available(entry);
    }

    // ===== pool lifecycle =====

    /// paused → ready. Returns false (and emits nothing) if already ready or closed.
    pub(crate) fn ready(&self) -> Result<bool, Refusal> {
        let mut current = self.state.load(Acquire);
        loop {
            let s = State(current);
            if s.closed() {
                return Err(Refusal::Closed);
            }
            if !s.paused() {
                return Ok(false);
            }
            match self
                .state
                .compare_exchange(current, s.with_ready().0, AcqRel, Acquire)
            {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        self.emit(|address| CmapEvent::PoolReady { address });
        self.maintenance.notify();
        self.dispatch();
        Ok(true)
    }

    /// Bumps the generation and pauses (CMAP L1–L6). Returns the new generation.
    pub(crate) fn clear(&self, interrupt_in_use_connections: bool) -> u64 {
        let mut current = self.state.load(Acquire);
        let (before, after) = loop {
            let s = State(current);
            if s.closed() {
                return s.generation();
            }
            let next = s.with_cleared();
            match self
                .state
                .compare_exchange(current, next.0, AcqRel, Acquire)
            {
                Ok(_) => break (s, next),
                Err(actual) => current = actual,
            }
        };
        debug_assert!(after.paused(), "L2: a cleared pool is paused");
        if interrupt_in_use_connections {
            self.interrupt_before
                .fetch_max_compat::<B>(after.generation());
        }
        if !before.paused() {
            self.emit(|address| CmapEvent::PoolCleared {
                address,
                interrupt_in_use_connections,
            });
        }
        if interrupt_in_use_connections {
            self.interrupts.interrupt_except(after.generation());
        }
        self.dispatch(); // L4: fail the waiters now.
        self.maintenance.notify(); // L5: close stale idle connections promptly.
        after.generation()
    }

    /// Closes the pool (CMAP S4). Returns false if it was closed already.
    pub(crate) fn close(&self) -> bool {
        let before = State(self.state.fetch_or(State::CLOSED_BIT, AcqRel));
        if before.closed() {
            return false;
        }
        self.dispatch(); // closes the available connections, fails the waiters
        self.emit(|address| CmapEvent::PoolClosed { address });
        self.maintenance.notify();
        true
    }
}

impl<M: Manager, B: Backend> Drop for Engine<M, B> {
    fn drop(&mut self) {
        // Wake the background tasks so they see the engine is gone and exit.
        self.maintenance.notify();
        self.claim_signal.notify();
    }
}

/// The longest the claim watcher sleeps while it has waiters to watch.
const CLAIM_SWEEP_PERIOD_MAX: Duration = Duration::from_millis(10);

/// `fetch_max` for the backends, which only promise the ops in `AtomicOps`.
trait FetchMax {
    fn fetch_max_compat<B: Backend>(&self, v: u64);
}

impl<A: AtomicOps<u64>> FetchMax for A {
    fn fetch_max_compat<B: Backend>(&self, v: u64) {
        let mut current = self.load(Acquire);
        while current < v {
            match self.compare_exchange(current, v, AcqRel, Acquire) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }
}

/// A one-bit, wake-once signal (used to run maintenance early).
pub(crate) struct Signal<B: Backend> {
    flag: B::AtomicUsize,
    waker: AtomicWaker<B>,
}

impl<B: Backend> Signal<B> {
    pub(crate) fn new() -> Self {
        Signal {
            flag: B::AtomicUsize::new(0),
            waker: AtomicWaker::new(),
        }
    }

    pub(crate) fn notify(&self) {
        self.flag.store(1, SeqCst);
        self.waker.wake();
    }

    /// Consumes a pending notification, or registers for the next one.
    pub(crate) fn poll(&self, cx: &mut std::task::Context<'_>) -> bool {
        if self.flag.swap(0, AcqRel) == 1 {
            return true;
        }
        self.waker.register(cx.waker());
        self.flag.swap(0, AcqRel) == 1
    }
}
