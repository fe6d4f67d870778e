//! Loom models of the pool engine: the production code (`Pool<_, LoomBackend>`) under
//! every interleaving loom explores within a preemption bound. Each model names the
//! invariants (engine I1–I8, waiter W1–W3, CMAP rules) it checks; the engine's own
//! `debug_assert!`s run in every interleaving too.

mod common;

use common::{assert_quiescent, claim_pool, model, poll_once, pool, StillRuntime};
use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use pool_core::CheckoutError;

/// I1, I2, I3: two racing checkouts on a pool of one never exceed the limits, both get
/// served in turn, and nothing leaks.
#[test]
fn limits_hold_under_racing_checkouts() {
    model("limits_hold_under_racing_checkouts", 3, || {
        let pool = pool(1, 1);
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                thread::spawn(move || {
                    let conn = block_on(pool.check_out()).expect("served in turn");
                    let s = pool.status();
                    assert!(s.total <= 1, "I1: total {} > maxPoolSize 1", s.total);
                    assert!(
                        s.pending <= 1,
                        "I2: pending {} > maxConnecting 1",
                        s.pending
                    );
                    drop(conn);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_quiescent(&pool);
        assert_eq!(pool.status().total, 1, "one connection serves both");
        assert_eq!(
            pool.status().counters.created,
            1,
            "MAX: creation bounded by demand"
        );
    });
}

/// I4: a check-in racing a new waiter is never lost (a lost wake-up would leave the
/// waiter parked forever, which loom reports as a deadlock).
#[test]
fn checkin_racing_a_new_waiter_wakes_it() {
    model("checkin_racing_a_new_waiter_wakes_it", 3, || {
        let pool = pool(1, 1);
        let held = block_on(pool.check_out()).unwrap();
        let waiter = {
            let pool = pool.clone();
            thread::spawn(move || {
                drop(block_on(pool.check_out()).expect("handed the checked-in connection"))
            })
        };
        drop(held);
        waiter.join().unwrap();
        assert_quiescent(&pool);
        assert_eq!(pool.status().total, 1);
    });
}

/// I3, I4, CMAP K4 with shelves: a connection on one thread's shelf serves another
/// thread's checkout (which would otherwise queue for ever on a pool of one) while the
/// shelving thread checks out and in again; no second connection is ever made.
#[test]
fn shelved_connection_serves_other_threads() {
    model("shelved_connection_serves_other_threads", 3, || {
        let pool = pool(1, 1);
        drop(block_on(pool.check_out()).unwrap()); // onto the main thread's shelf
        let other = {
            let pool = pool.clone();
            thread::spawn(move || {
                drop(block_on(pool.check_out()).expect("takes the shelved connection"))
            })
        };
        drop(block_on(pool.check_out()).expect("served in turn"));
        other.join().unwrap();
        assert_quiescent(&pool);
        let s = pool.status();
        assert_eq!(
            s.counters.created, 1,
            "K4: the shelved connection is reused"
        );
        assert_eq!(s.counters.checked_out, 3);
    });
}

/// W2, K11: a checkout cancelled after one poll (a timeout or a dropped future) leaves the
/// queue, and a connection granted to it in the race goes back to the pool.
#[test]
fn cancelled_waiter_leaks_nothing() {
    model("cancelled_waiter_leaks_nothing", 3, || {
        let pool = pool(1, 1);
        let held = block_on(pool.check_out()).unwrap();
        let canceller = {
            let pool = pool.clone();
            thread::spawn(move || {
                let mut fut = Box::pin(pool.check_out());
                // Either queued (pending) or served at once if the check-in came first.
                let got = poll_once(&mut fut);
                drop(got);
                drop(fut);
            })
        };
        drop(held);
        canceller.join().unwrap();
        assert_quiescent(&pool);
        assert_eq!(
            pool.status().total,
            1,
            "the connection survived the cancelled grant"
        );
        let mut again = Box::pin(pool.check_out());
        assert!(
            matches!(poll_once(&mut again), Some(Ok(_))),
            "the pool still serves at once"
        );
    });
}

/// I5 (FIFO hand-off): with one connection held, two queued checkouts are served in
/// arrival order even when the check-in races the second arrival.
#[test]
fn handoff_is_fifo() {
    model("handoff_is_fifo", 3, || {
        let pool = pool(1, 1);
        let held = block_on(pool.check_out()).unwrap();
        let first_queued = Arc::new(AtomicBool::new(false));
        let waiters = {
            let pool = pool.clone();
            let first_queued = first_queued.clone();
            thread::spawn(move || {
                let mut first = Box::pin(pool.check_out());
                assert!(poll_once(&mut first).is_none(), "the connection is held");
                first_queued.store(true, Ordering::SeqCst);
                let mut second = Box::pin(pool.check_out());
                assert!(
                    poll_once(&mut second).is_none(),
                    "I5: the newcomer must not overtake"
                );
                let conn = block_on(first).expect("the older waiter is served first");
                assert!(
                    poll_once(&mut second).is_none(),
                    "only one connection exists"
                );
                drop(conn);
                drop(block_on(second).expect("then the second"));
            })
        };
        while !first_queued.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        drop(held);
        waiters.join().unwrap();
        assert_quiescent(&pool);
    });
}

/// I7, CMAP L4 and I6: a clear fails every queued checkout at once, and after ready no
/// connection of the old generation is handed out.
#[test]
fn clear_fails_waiters_and_stale_is_never_handed_out() {
    model(
        "clear_fails_waiters_and_stale_is_never_handed_out",
        3,
        || {
            let pool = pool(1, 1);
            let held = block_on(pool.check_out()).unwrap();
            let waiter = {
                let pool = pool.clone();
                thread::spawn(move || match block_on(pool.check_out()) {
                    Err(CheckoutError::PoolCleared { .. }) => {}
                    other => panic!("L4: expected PoolCleared, got {other:?}"),
                })
            };
            let clearer = {
                let pool = pool.clone();
                thread::spawn(move || {
                    pool.clear(false);
                })
            };
            clearer.join().unwrap();
            waiter.join().unwrap();
            drop(held); // stale: closed at check-in
            assert_eq!(
                pool.status().total,
                0,
                "the stale connection was closed at check-in"
            );
            pool.ready().unwrap();
            let conn = block_on(pool.check_out()).unwrap();
            assert_eq!(
                conn.generation(),
                pool.status().generation,
                "I6: no stale hand-out"
            );
            drop(conn);
            assert_quiescent(&pool);
        },
    );
}

/// CMAP S4/S5: close fails queued checkouts with PoolClosed; the in-use connection is
/// closed at check-in; nothing is left.
#[test]
fn close_fails_waiters_and_drains() {
    model("close_fails_waiters_and_drains", 3, || {
        let pool = pool(1, 1);
        let held = block_on(pool.check_out()).unwrap();
        let waiter = {
            let pool = pool.clone();
            thread::spawn(move || match block_on(pool.check_out()) {
                Err(CheckoutError::PoolClosed) => {}
                other => panic!("S5: expected PoolClosed, got {other:?}"),
            })
        };
        let closer = {
            let pool = pool.clone();
            thread::spawn(move || pool.close())
        };
        closer.join().unwrap();
        waiter.join().unwrap();
        drop(held);
        let s = pool.status();
        assert_eq!(
            (s.total, s.available, s.waiters),
            (0, 0, 0),
            "close left {s:?}"
        );
        assert!(s.closed);
    });
}

/// I4 and CMAP S4 for the fast path's refusal: a checkout finds a stale connection (a
/// clear paused the pool) on its thread's shelf and leaves it there, while another thread
/// closes the pool. A close that drains while the checkout holds the shelf passes it over
/// (SHELF-3); the checkout's dispatch after republishing it sees the pool closed and
/// closes it. Whatever the order, the checkout fails and nothing is left open.
#[test]
fn fast_path_leaving_a_connection_racing_close_leaks_nothing() {
    model(
        "fast_path_leaving_a_connection_racing_close_leaks_nothing",
        3,
        || {
            let pool = pool(1, 1);
            // Connection 1 onto the main thread's shelf, then made stale.
            drop(block_on(pool.check_out()).unwrap());
            pool.clear(false);
            let closer = {
                let pool = pool.clone();
                thread::spawn(move || pool.close())
            };
            match block_on(pool.check_out()) {
                Err(CheckoutError::PoolCleared { .. } | CheckoutError::PoolClosed) => {}
                other => panic!("L4, S5: a paused or closed pool refuses, got {other:?}"),
            }
            closer.join().unwrap();
            let s = pool.status();
            assert_eq!(
                (s.total, s.available, s.waiters),
                (0, 0, 0),
                "S4: close left {s:?}"
            );
            assert_eq!(s.counters.closed, 1, "connection 1 closed once: {s:?}");
        },
    );
}

/// I4 with two check-ins and two waiters on a pool of two: every waiter is served.
#[test]
fn two_checkins_two_waiters() {
    model("two_checkins_two_waiters", 1, || {
        let pool = pool(2, 2);
        let a = block_on(pool.check_out()).unwrap();
        let b = block_on(pool.check_out()).unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                thread::spawn(move || drop(block_on(pool.check_out()).unwrap()))
            })
            .collect();
        let returner = thread::spawn(move || drop(a));
        drop(b);
        returner.join().unwrap();
        for w in waiters {
            w.join().unwrap();
        }
        assert_quiescent(&pool);
        assert_eq!(pool.status().total, 2);
    });
}

/// W2 + I5: the head waiter is cancelled while a check-in races it; the connection
/// passes on to the next waiter instead of being lost with the cancelled one.
#[test]
fn cancelled_head_waiter_passes_the_connection_on() {
    model("cancelled_head_waiter_passes_the_connection_on", 2, || {
        let pool = pool(1, 1);
        let held = block_on(pool.check_out()).unwrap();
        let head_queued = Arc::new(AtomicBool::new(false));
        let canceller = {
            let pool = pool.clone();
            let head_queued = head_queued.clone();
            thread::spawn(move || {
                let mut head = Box::pin(pool.check_out());
                // Queued, or served at once if the check-in came first.
                let served = poll_once(&mut head);
                head_queued.store(true, Ordering::SeqCst);
                drop(served);
                drop(head); // cancelled, maybe after a grant reached it
            })
        };
        let next = {
            let pool = pool.clone();
            let head_queued = head_queued.clone();
            thread::spawn(move || {
                while !head_queued.load(Ordering::SeqCst) {
                    thread::yield_now();
                }
                drop(block_on(pool.check_out()).expect("served after the head left"));
            })
        };
        drop(held);
        canceller.join().unwrap();
        next.join().unwrap();
        assert_quiescent(&pool);
        assert_eq!(pool.status().total, 1);
    });
}

/// I6 + CMAP L5: a check-in racing a clear never leaves a stale connection available;
/// after ready, only current-generation connections are handed out.
#[test]
fn clear_racing_checkin_leaves_nothing_stale() {
    model("clear_racing_checkin_leaves_nothing_stale", 3, || {
        let pool = pool(1, 1);
        let held = block_on(pool.check_out()).unwrap();
        let returner = thread::spawn(move || drop(held));
        let clearer = {
            let pool = pool.clone();
            thread::spawn(move || pool.clear(false))
        };
        returner.join().unwrap();
        let generation = clearer.join().unwrap();
        pool.ready().unwrap();
        let conn = block_on(pool.check_out()).unwrap();
        assert_eq!(
            conn.generation(),
            generation,
            "I6: a stale connection was handed out"
        );
        drop(conn);
        assert_quiescent(&pool);
        assert_eq!(
            pool.status().total,
            1,
            "at most one connection after the clear"
        );
    });
}

/// I8, W3: a grant its checkout does not claim within `claim_timeout` (a zombie: polled
/// once, then left) is taken back by the claim watcher. A late poll of that checkout
/// racing the sweep either claims the grant or learns it must queue again and is then
/// served from the pool — never both, never neither, and nothing leaks.
#[test]
fn unclaimed_grant_is_reclaimed_exactly_once() {
    model("unclaimed_grant_is_reclaimed_exactly_once", 3, || {
        let runtime = std::sync::Arc::new(StillRuntime::default());
        let claim = std::time::Duration::from_millis(1);
        let pool = claim_pool(claim, runtime.clone());
        let held = block_on(pool.check_out()).unwrap();
        let zombie_pool = pool.clone();
        let mut zombie = Box::pin(async move { zombie_pool.check_out().await.map(drop) });
        assert!(poll_once(&mut zombie).is_none(), "the zombie queues");
        drop(held); // granted to the zombie, which is not polled
        pool.sweep_claims(); // the watcher sees the grant unclaimed: its clock starts
        runtime.advance(claim * 2);
        let sweeper = {
            let pool = pool.clone();
            thread::spawn(move || pool.sweep_claims())
        };
        let late = thread::spawn(move || block_on(zombie).expect("served in the end"));
        sweeper.join().unwrap();
        late.join().unwrap();
        assert_quiescent(&pool);
        let s = pool.status();
        assert_eq!(s.total, 1);
        assert!(s.counters.reclaimed <= 1, "W3: reclaimed twice: {s:?}");
        assert_eq!(s.counters.checked_out, 2, "both checkouts were served");
    });
}

/// C1, C4, I8: a woken checkout claims its grant and unlinks its waiter from the claim
/// list while the claim watcher sweeps that list (and pushes the grant back, not yet due);
/// the checkout is served, nothing is reclaimed, and the pool ends quiescent.
#[test]
fn claim_racing_a_sweep_unlinks_once() {
    model("claim_racing_a_sweep_unlinks_once", 3, || {
        let runtime = std::sync::Arc::new(StillRuntime::default());
        let pool = claim_pool(std::time::Duration::from_secs(1), runtime);
        let held = block_on(pool.check_out()).unwrap();
        let waiter_pool = pool.clone();
        let mut waiting = Box::pin(async move { waiter_pool.check_out().await.map(drop) });
        assert!(poll_once(&mut waiting).is_none(), "the checkout queues");
        drop(held); // granted, and pushed onto this thread's claim list
        let sweeper = {
            let pool = pool.clone();
            thread::spawn(move || pool.sweep_claims())
        };
        let claimer = thread::spawn(move || block_on(waiting).expect("served"));
        sweeper.join().unwrap();
        claimer.join().unwrap();
        pool.sweep_claims(); // frees whatever the claimer could not unlink
        assert_quiescent(&pool);
        let s = pool.status();
        assert_eq!(s.counters.reclaimed, 0, "nothing was due");
        assert_eq!(s.counters.checked_out, 2);
    });
}

/// I6 at the claim, I3, I7, CMAP L4: a check-in grants its connection to the queued
/// checkout, then a clear races that checkout's claim. A claim that starts after the
/// clear returned must fail with `PoolCleared` (the connection it was granted is of the
/// old generation: I6 re-checks it at the claim); a claim that wins the race may take it
/// (it was current when claimed). Either way nothing stays held or queued, the stale
/// connection is closed (at the claim, at check-in, or when it leaves `idle`) and not
/// leaked (I3), and after `ready` only the new generation is handed out.
#[test]
fn clear_between_grant_and_claim_hands_out_nothing_stale() {
    model(
        "clear_between_grant_and_claim_hands_out_nothing_stale",
        3,
        || {
            let pool = pool(1, 1);
            let held = block_on(pool.check_out()).unwrap();
            let before = pool.status().generation;
            let waiter_pool = pool.clone();
            let mut waiting = Box::pin(async move { waiter_pool.check_out().await });
            assert!(poll_once(&mut waiting).is_none(), "the checkout queues");
            drop(held); // granted to the queued checkout, not yet claimed
            let cleared = Arc::new(AtomicBool::new(false));
            let clearer = {
                let (pool, cleared) = (pool.clone(), cleared.clone());
                thread::spawn(move || {
                    let generation = pool.clear(false);
                    cleared.store(true, Ordering::SeqCst);
                    generation
                })
            };
            let claimer = thread::spawn(move || {
                let after_clear = cleared.load(Ordering::SeqCst);
                match block_on(waiting) {
                    Ok(conn) => {
                        assert!(
                            !after_clear,
                            "I6: the connection granted before the clear was handed out \
                             after it"
                        );
                        assert_eq!(conn.generation(), before);
                        drop(conn); // stale by now or soon: closed at check-in
                    }
                    Err(CheckoutError::PoolCleared { .. }) => {}
                    Err(other) => panic!("L4: expected PoolCleared, got {other:?}"),
                }
            });
            let generation = clearer.join().unwrap();
            claimer.join().unwrap();
            let s = pool.status();
            assert_eq!(
                (s.in_use, s.waiters, s.generation),
                (0, 0, generation),
                "nothing is held or queued after the clear: {s:?}"
            );
            assert!(s.total <= 1, "I1: {s:?}");
            pool.ready().unwrap();
            let conn = block_on(pool.check_out()).unwrap();
            assert_eq!(conn.generation(), generation, "I6: no stale hand-out");
            drop(conn);
            assert_quiescent(&pool);
            let s = pool.status();
            assert_eq!(s.total, 1, "only the new connection is left");
            assert_eq!(
                s.counters.created - s.counters.closed,
                u64::from(s.total),
                "I3: the stale connection was closed, not leaked: {s:?}"
            );
            assert_quiescent(&pool);
        },
    );
}

/// A manager whose `connect` is pending at its first two polls and done at the third, so a
/// model can keep an establishment in flight (in the interrupt table) across polls.
struct SlowConnect;

impl pool_core::Manager for SlowConnect {
    type Connection = ();
    type Error = std::io::Error;
    async fn connect(&self, _id: u64) -> Result<(), std::io::Error> {
        PendingFor(2).await;
        Ok(())
    }
}

/// Pending for as many polls as it holds (waking itself each time), then ready.
struct PendingFor(u8);

impl std::future::Future for PendingFor {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 == 0 {
            return std::task::Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// T1, T2 (the interrupt table), with I2, I6 and CMAP L6: a connection of generation 0 is
/// establishing in the only interrupt slot (`max_connecting` 1) while a
/// `clear(interrupt_in_use_connections)` interrupts it, and the clearing thread then readies
/// the pool and checks out a connection of the new generation, which needs that slot.
/// T2: the interrupt marks only the word it read, so a slot freed between its read and its
/// mark is never marked (a blind store would leave a ghost in the slot, and the new
/// establishment would find no free slot: the `T1` assertions fire). T1: the old
/// establishment frees its slot before its `pending` unit, so the new one, admitted only
/// once that unit is gone, always finds the slot free. The old checkout either gets its
/// connection (a clear after its I6 re-check) or fails with `PoolCleared`; the new one is
/// served with the new generation and is not interrupted; nothing leaks.
#[test]
fn interrupt_marks_only_the_establishment_it_read() {
    model("interrupt_marks_only_the_establishment_it_read", 3, || {
        let options = pool_core::PoolOptions {
            max_pool_size: 2,
            max_connecting: 1,
            maintenance_interval: None,
            claim_timeout: None,
            waiters_max: 4,
            ..pool_core::PoolOptions::default()
        };
        let pool = pool_core::Pool::builder(SlowConnect)
            .options(options)
            .runtime(std::sync::Arc::new(common::FrozenRuntime))
            .ready()
            .build_with_backend::<common::LoomBackend>()
            .expect("valid options");
        let old_pool = pool.clone();
        let mut old = Box::pin(async move { old_pool.check_out().await });
        assert!(
            poll_once(&mut old).is_none(),
            "the old connection is establishing"
        );
        assert_eq!(pool.status().pending, 1, "I2: one establishment in flight");
        let establisher = thread::spawn(move || match block_on(old) {
            Ok(conn) => drop(conn), // stale by now or soon: closed at check-in
            Err(CheckoutError::PoolCleared { .. }) => {}
            Err(other) => panic!("L6: expected PoolCleared, got {other:?}"),
        });
        let clearer = {
            let pool = pool.clone();
            thread::spawn(move || {
                let generation = pool.clear(true);
                pool.ready().unwrap();
                let conn = block_on(pool.check_out()).expect("T1: the slot is free");
                assert_eq!(conn.generation(), generation, "I6: no stale hand-out");
                assert!(
                    !conn.is_interrupted(),
                    "T2: a connection of the current generation is never interrupted"
                );
                drop(conn);
                generation
            })
        };
        establisher.join().unwrap();
        let generation = clearer.join().unwrap();
        let s = pool.status();
        assert_eq!(
            (s.pending, s.in_use, s.waiters, s.generation),
            (0, 0, 0, generation),
            "nothing is held, pending or queued: {s:?}"
        );
        assert_eq!(s.available, s.total, "LEAK: {s:?}");
        assert_eq!(
            s.counters.created - s.counters.closed,
            u64::from(s.total),
            "I3: every connection is counted once: {s:?}"
        );
    });
}

/// A manager for the test-on-borrow model: `connect` is ready at once, and `validate` is
/// pending at its first poll (waking itself) and fails at the second, so a checkout polled
/// once is caught mid-check and one polled on sees the connection fail.
struct FailsOnSecondPoll;

impl pool_core::Manager for FailsOnSecondPoll {
    type Connection = ();
    type Error = std::io::Error;
    async fn connect(&self, _id: u64) -> Result<(), std::io::Error> {
        Ok(())
    }
    async fn validate(&self, _conn: &mut ()) -> Result<(), std::io::Error> {
        PendingFor(1).await;
        Err(std::io::Error::other("the connection is dead"))
    }
}

/// V1, V2 (the validation guard) with I3 and I4: on a pool of one with test-on-borrow
/// (zero bypass: every connection taken from the pool is validated), a checkout polled
/// once — caught validating the only connection, or queued behind another checkout's
/// validation — is dropped while a second checkout runs to the end. Whoever validates the
/// connection closes it exactly once (the dropped checkout's guard, or the failed check),
/// the `total` unit it frees reaches the other checkout (a dispatch after the guard's
/// close, or the failed check's unit turned into a creation permit), which is served with
/// a new connection; nothing is left held, pending or queued.
#[test]
fn validating_checkout_dropped_racing_a_checkout_leaks_nothing() {
    model(
        "validating_checkout_dropped_racing_a_checkout_leaks_nothing",
        3,
        || {
            let options = pool_core::PoolOptions {
                max_pool_size: 1,
                max_connecting: 1,
                maintenance_interval: None,
                claim_timeout: None,
                waiters_max: 4,
                test_on_borrow: true,
                validation_bypass: std::time::Duration::ZERO,
                ..pool_core::PoolOptions::default()
            };
            let pool = pool_core::Pool::builder(FailsOnSecondPoll)
                .options(options)
                .runtime(std::sync::Arc::new(common::FrozenRuntime))
                .ready()
                .build_with_backend::<common::LoomBackend>()
                .expect("valid options");
            // Connection 1, fresh (never validated), onto the main thread's shelf.
            drop(block_on(pool.check_out()).expect("a fresh connection"));
            let dropped = {
                let pool = pool.clone();
                thread::spawn(move || {
                    let mut fut = Box::pin(pool.check_out());
                    // Validating connection 1, or queued: either way pending.
                    assert!(poll_once(&mut fut).is_none(), "a check or a queue pends");
                    drop(fut);
                })
            };
            let conn = block_on(pool.check_out()).expect("served with a new connection");
            dropped.join().unwrap();
            let s = pool.status();
            assert_eq!((s.total, s.in_use, s.pending), (1, 1, 0), "I3: {s:?}");
            drop(conn);
            let s = pool.status();
            assert_eq!(
                (s.total, s.available, s.in_use, s.pending, s.waiters),
                (1, 1, 0, 0, 0),
                "LEAK at quiescence: {s:?}"
            );
            assert_eq!(
                (
                    s.counters.created,
                    s.counters.closed,
                    s.counters.closed_by.error
                ),
                (2, 1, 1),
                "V1: connection 1 closed once, as an error; one new connection: {s:?}"
            );
            assert_eq!(s.counters.checked_out, 2, "{s:?}");
        },
    );
}
