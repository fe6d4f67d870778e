//! Coverage: which interesting pool states a run reached, and how often.
//!
//! The oracle sees every run from outside (events, status, checkouts), so it can tell
//! which corners of the pool's state space a run got into, whatever the pool under test.
//! Each run counts the states it reached ([`Coverage`], in
//! [`RunReport::coverage`](crate::RunReport::coverage)); a sweep sums them per state and
//! lists those it never reached ([`crate::SweepReport::coverage`] and
//! [`crate::SweepReport::never_reached`]): a state no seed reaches is a blind spot of the
//! scenario, not a clean bill of health.
//!
//! A state that lasts (a full pool with waiters) counts once per *episode*: it counts
//! when it starts to hold at a stable point, again only after it stopped holding. An
//! event-like state counts once per occurrence. The states, and how each is detected:
//!
//! | name | detected |
//! |---|---|
//! | `pool_full_with_waiters` | at a stable point, total connections ≥ maxPoolSize while a checkout waits |
//! | `clear_with_waiters` | `PoolCleared` while a checkout waits |
//! | `connect_failed_with_waiters` | `ConnectionClosed` (error) of a pending connection while a checkout waits |
//! | `max_connecting_saturated` | at a stable point, pending == maxConnecting while a checkout waits (more demand) |
//! | `zombie_at_head` | at a stable point, the oldest outstanding checkout is a zombie with a waiter behind it; or the oldest waiter is cancelled with another behind it |
//! | `idle_prune_during_checkout` | `ConnectionClosed` (idle or expired) while a checkout is outstanding |
//! | `check_in_racing_timeout` | `CheckedIn` and a timed-out `CheckOutFailed` at the same virtual instant |
//! | `wait_queue_timeout` | `CheckOutFailed` (timeout) |
//! | `connection_error_checkout` | `CheckOutFailed` (connection error) |
//! | `closed_with_checkouts` | `PoolClosed` while a checkout is outstanding |
//! | `connection_interrupted` | `PoolCleared` with interruptInUseConnections while a connection is in use |
//! | `stale_connection_closed` | `ConnectionClosed` (stale) |
//! | `leak_suspected` | `LeakSuspected` |
//! | `validation_failed` | `ConnectionClosed` of a connection being validated (no `ConnectionValidated`) |

use std::collections::BTreeMap;
use std::time::Duration;

use pool_core::{ConnectionCheckOutFailedReason, ConnectionClosedReason};
use serde::{Serialize, Serializer};

use super::model::Place;
use super::{CheckoutId, Oracle};
use crate::pool_under_test::PoolEvent;

/// An interesting state a run may reach (see the module doc for how each is detected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CoverState {
    /// The pool is full and a checkout waits.
    PoolFullWithWaiters,
    /// The pool is cleared while a checkout waits.
    ClearWithWaiters,
    /// A connect fails while a checkout waits.
    ConnectFailedWithWaiters,
    /// maxConnecting connections are pending and a checkout still waits.
    MaxConnectingSaturated,
    /// A zombie (or cancelled) checkout is at the head of the queue.
    ZombieAtHead,
    /// An idle or expired connection is closed while a checkout is in progress.
    IdlePruneDuringCheckout,
    /// A check-in and a checkout timing out at the same instant.
    CheckInRacingTimeout,
    /// A checkout timed out.
    WaitQueueTimeout,
    /// A checkout failed with a connection error.
    ConnectionErrorCheckout,
    /// The pool is closed with checkouts outstanding.
    ClosedWithCheckouts,
    /// A clear interrupts in-use connections.
    ConnectionInterrupted,
    /// A stale connection is closed.
    StaleConnectionClosed,
    /// The pool suspects a leak.
    LeakSuspected,
    /// A connection fails its validation.
    ValidationFailed,
}

impl CoverState {
    /// Every state, in report order.
    pub const ALL: [CoverState; 14] = [
        CoverState::PoolFullWithWaiters,
        CoverState::ClearWithWaiters,
        CoverState::ConnectFailedWithWaiters,
        CoverState::MaxConnectingSaturated,
        CoverState::ZombieAtHead,
        CoverState::IdlePruneDuringCheckout,
        CoverState::CheckInRacingTimeout,
        CoverState::WaitQueueTimeout,
        CoverState::ConnectionErrorCheckout,
        CoverState::ClosedWithCheckouts,
        CoverState::ConnectionInterrupted,
        CoverState::StaleConnectionClosed,
        CoverState::LeakSuspected,
        CoverState::ValidationFailed,
    ];

    /// The state's stable snake_case name (reports and JSON keys).
    pub fn name(self) -> &'static str {
        match self {
            CoverState::PoolFullWithWaiters => "pool_full_with_waiters",
            CoverState::ClearWithWaiters => "clear_with_waiters",
            CoverState::ConnectFailedWithWaiters => "connect_failed_with_waiters",
            CoverState::MaxConnectingSaturated => "max_connecting_saturated",
            CoverState::ZombieAtHead => "zombie_at_head",
            CoverState::IdlePruneDuringCheckout => "idle_prune_during_checkout",
            CoverState::CheckInRacingTimeout => "check_in_racing_timeout",
            CoverState::WaitQueueTimeout => "wait_queue_timeout",
            CoverState::ConnectionErrorCheckout => "connection_error_checkout",
            CoverState::ClosedWithCheckouts => "closed_with_checkouts",
            CoverState::ConnectionInterrupted => "connection_interrupted",
            CoverState::StaleConnectionClosed => "stale_connection_closed",
            CoverState::LeakSuspected => "leak_suspected",
            CoverState::ValidationFailed => "validation_failed",
        }
    }

    fn index(self) -> usize {
        CoverState::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

impl std::fmt::Display for CoverState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How often each [`CoverState`] was reached (serialised as a map from the states'
/// names to their counts, every state included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    counts: [u64; CoverState::ALL.len()],
}

impl Coverage {
    /// Counts one more reach of `state`.
    pub fn hit(&mut self, state: CoverState) {
        let count = &mut self.counts[state.index()];
        *count = count.saturating_add(1);
    }

    /// How often `state` was reached.
    pub fn get(&self, state: CoverState) -> u64 {
        self.counts[state.index()]
    }

    /// Adds `other`'s counts (a sweep summing its runs).
    pub fn add(&mut self, other: &Coverage) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine = mine.saturating_add(theirs);
        }
    }

    /// Every state by name with its count.
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        CoverState::ALL
            .into_iter()
            .map(|s| (s.name().to_string(), self.get(s)))
            .collect()
    }

    /// The states never reached, in report order.
    pub fn never_reached(&self) -> Vec<CoverState> {
        CoverState::ALL
            .into_iter()
            .filter(|s| self.get(*s) == 0)
            .collect()
    }
}

impl Serialize for Coverage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(serializer)
    }
}

/// The oracle's coverage counts and the episodes under way.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    pub(crate) coverage: Coverage,
    full_with_waiters: bool,
    saturated: bool,
    zombie_head: bool,
    last_check_in: Option<Duration>,
    last_timeout: Option<Duration>,
    raced_at: Option<Duration>,
}

impl Tracker {
    /// Counts `state` once per episode: when `holds` turns true.
    fn episode(&mut self, state: CoverState, holds: bool, flag: fn(&mut Tracker) -> &mut bool) {
        let was = std::mem::replace(flag(self), holds);
        if holds && !was {
            self.coverage.hit(state);
        }
    }

    /// A check-in and a timeout at `now`: counted once per instant.
    fn race(&mut self, now: Duration) {
        let check_in = self.last_check_in == Some(now);
        let timeout = self.last_timeout == Some(now);
        if check_in && timeout && self.raced_at != Some(now) {
            self.raced_at = Some(now);
            self.coverage.hit(CoverState::CheckInRacingTimeout);
        }
    }
}

impl Oracle {
    /// The coverage counted so far.
    pub fn coverage(&self) -> &Coverage {
        &self.cover.coverage
    }

    fn has_waiter(&self) -> bool {
        self.model.waiting().next().is_some()
    }

    /// Before the model takes `event` in: the states the event reaches.
    pub(super) fn cover_event(&mut self, now: Duration, event: &PoolEvent) {
        let hit = match *event {
            PoolEvent::PoolCleared { interrupt } => {
                if interrupt && self.model.in_use > 0 {
                    self.cover.coverage.hit(CoverState::ConnectionInterrupted);
                }
                self.has_waiter().then_some(CoverState::ClearWithWaiters)
            }
            PoolEvent::PoolClosed => {
                (!self.model.outstanding.is_empty()).then_some(CoverState::ClosedWithCheckouts)
            }
            PoolEvent::ConnectionClosed { id, reason } => {
                let place = self.model.conn(id).map(|c| c.place);
                match reason {
                    _ if place == Some(Place::Validating) => Some(CoverState::ValidationFailed),
                    ConnectionClosedReason::Error if place == Some(Place::Pending) => self
                        .has_waiter()
                        .then_some(CoverState::ConnectFailedWithWaiters),
                    ConnectionClosedReason::Idle | ConnectionClosedReason::Expired => {
                        let in_progress = self
                            .model
                            .outstanding
                            .iter()
                            .any(|k| self.model.checkout(*k).is_some_and(|c| !c.zombie));
                        in_progress.then_some(CoverState::IdlePruneDuringCheckout)
                    }
                    ConnectionClosedReason::Stale => Some(CoverState::StaleConnectionClosed),
                    _ => None,
                }
            }
            PoolEvent::CheckOutFailed { reason } => match reason {
                ConnectionCheckOutFailedReason::Timeout => {
                    self.cover.last_timeout = Some(now);
                    self.cover.race(now);
                    Some(CoverState::WaitQueueTimeout)
                }
                ConnectionCheckOutFailedReason::ConnectionError => {
                    Some(CoverState::ConnectionErrorCheckout)
                }
                ConnectionCheckOutFailedReason::PoolClosed => None,
            },
            PoolEvent::CheckedIn { .. } => {
                self.cover.last_check_in = Some(now);
                self.cover.race(now);
                None
            }
            PoolEvent::LeakSuspected { .. } => Some(CoverState::LeakSuspected),
            _ => None,
        };
        if let Some(state) = hit {
            self.cover.coverage.hit(state);
        }
    }

    /// Checkout `k` is about to end cancelled: a cancelled head of the queue.
    pub(super) fn cover_cancelled(&mut self, k: CheckoutId) {
        let mut waiting = self.model.waiting();
        if waiting.next() == Some(k) && waiting.next().is_some() {
            self.cover.coverage.hit(CoverState::ZombieAtHead);
        }
    }

    /// At a stable point: the lasting states.
    pub(super) fn cover_stable(&mut self) {
        let waiter = self.has_waiter();
        let full = waiter && self.model.total() >= self.config.max_total;
        let saturated = waiter && self.model.pending >= self.config.max_connecting;
        let zombie_head = self.model.outstanding.first().is_some_and(|k| {
            self.model.checkout(*k).is_some_and(|c| c.zombie)
                && self.model.waiting().any(|j| j > *k)
        });
        let t = &mut self.cover;
        t.episode(CoverState::PoolFullWithWaiters, full, |t| {
            &mut t.full_with_waiters
        });
        t.episode(CoverState::MaxConnectingSaturated, saturated, |t| {
            &mut t.saturated
        });
        t.episode(CoverState::ZombieAtHead, zombie_head, |t| {
            &mut t.zombie_head
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{CheckoutOutcome, OracleConfig};
    use pool_core::ConnectionId;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// maxPoolSize 1, maxConnecting 1: one connection checked out, a second checkout
    /// waiting behind it, then a clear, a timeout racing a check-in, and a close.
    #[test]
    fn a_crafted_event_sequence_reaches_the_states_it_should() {
        let mut o = Oracle::new(OracleConfig {
            max_total: 1,
            max_connecting: 1,
            tolerance: ms(5),
            wait_queue_timeout: Some(ms(100)),
            ..OracleConfig::default()
        });
        let id: ConnectionId = 1;
        o.pool_event(ms(0), &PoolEvent::PoolReady);
        let first = o.checkout_began(ms(0), None, ms(1000));
        o.pool_event(ms(0), &PoolEvent::ConnectionCreated { id });
        o.pool_event(ms(1), &PoolEvent::ConnectionReady { id });
        o.pool_event(ms(1), &PoolEvent::CheckedOut { id });
        o.checkout_ended(ms(1), first, &CheckoutOutcome::Ok(id));
        let second = o.checkout_began(ms(2), None, ms(100));
        o.stable(ms(2), None);
        o.stable(ms(3), None);
        assert_eq!(o.coverage().get(CoverState::PoolFullWithWaiters), 1);
        o.pool_event(ms(50), &PoolEvent::PoolCleared { interrupt: false });
        assert_eq!(o.coverage().get(CoverState::ClearWithWaiters), 1);
        o.pool_event(ms(50), &PoolEvent::PoolReady);
        o.pool_event(
            ms(102),
            &PoolEvent::CheckOutFailed {
                reason: ConnectionCheckOutFailedReason::Timeout,
            },
        );
        o.pool_event(ms(102), &PoolEvent::CheckedIn { id });
        o.pool_event(
            ms(102),
            &PoolEvent::CheckOutFailed {
                reason: ConnectionCheckOutFailedReason::Timeout,
            },
        );
        o.checkout_ended(
            ms(102),
            second,
            &CheckoutOutcome::Failed(crate::CheckoutFailure::Timeout),
        );
        o.stable(ms(102), None);
        let c = o.coverage().clone();
        assert_eq!(c.get(CoverState::WaitQueueTimeout), 2);
        assert_eq!(
            c.get(CoverState::CheckInRacingTimeout),
            1,
            "once per instant"
        );
        assert_eq!(c.get(CoverState::ClosedWithCheckouts), 0);
        let _third = o.checkout_began(ms(200), None, ms(1000));
        o.pool_event(ms(200), &PoolEvent::PoolClosed);
        let c = o.coverage().clone();
        assert_eq!(c.get(CoverState::ClosedWithCheckouts), 1);
        assert_eq!(c.get(CoverState::LeakSuspected), 0);
        assert!(c.never_reached().contains(&CoverState::ValidationFailed));
        assert!(!c.never_reached().contains(&CoverState::ClearWithWaiters));
        let map = c.to_map();
        assert_eq!(map.len(), CoverState::ALL.len());
        assert_eq!(map["pool_full_with_waiters"], 1);
        let mut sum = c.clone();
        sum.add(&c);
        assert_eq!(sum.get(CoverState::WaitQueueTimeout), 4);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["clear_with_waiters"], 1);
    }
}
