//! Inputs the `waiter_queue` and `pool_ops` fuzz targets once crashed on, run through
//! the same checkers (`pool_core::fuzzing::waiter_queue::check`,
//! `pool_core::fuzzing::model::run`). Each is written as the structured value
//! `cargo fuzz fmt <target> <artifact>` printed (the fuzz targets map their `arbitrary`
//! input one-to-one onto these types).

use pool_core::fuzzing::model::{self, Config, Op};
use pool_core::fuzzing::waiter_queue::{self, Action, Input};

/// waiter_queue crash-4ee0eaf0 (a harness bug, not an engine bug): close, then enqueue on
/// a closed queue. The waiter got the refusal and its checkout took it; the harness then
/// cancelled the finished checkout, which the engine forbids (debug assert W2: a waiter
/// is cancelled at most once, and only while its checkout lives). The checker now
/// cancels and polls live checkouts only.
#[test]
fn waiter_queue_enqueue_after_close() {
    waiter_queue::check(&Input {
        capacity: 255,
        threads: 255,
        steps: vec![(255, Action::Close), (10, Action::Enqueue)],
    });
}

/// The claim watcher's step interleaved with a cancel and a poll: a reclaimed grant goes
/// back to its producer, the canceller gets nothing, the poll says "queue again".
#[test]
fn waiter_queue_reclaim_races_cancel() {
    waiter_queue::check(&Input {
        capacity: 1,
        threads: 1,
        steps: vec![
            (0, Action::Enqueue),
            (0, Action::Deliver),
            (0, Action::Deliver), // pop
            (0, Action::Deliver), // hand-off
            (0, Action::Reclaim(0)),
            (0, Action::Reclaim(0)),
            (0, Action::Cancel(0)),
            (0, Action::Poll(0)),
        ],
    });
}

/// Two deliverers race for one waiter while it is cancelled between pop and hand-off.
#[test]
fn waiter_queue_cancel_between_pop_and_hand_off() {
    waiter_queue::check(&Input {
        capacity: 2,
        threads: 2,
        steps: vec![
            (0, Action::Enqueue),
            (1, Action::Enqueue),
            (0, Action::Deliver),
            (0, Action::Deliver), // thread 0 pops waiter 0
            (1, Action::Cancel(0)),
            (0, Action::Deliver), // the hand-off comes back; next: pop waiter 1
            (0, Action::Deliver),
            (0, Action::Deliver),
            (1, Action::Poll(0)),
        ],
    });
}

/// pool_ops crash-ee9f5244 (a harness bug, not an engine bug): a single checkout. The
/// pool gained a claim watcher task (`claim_timeout`, default 1 s), and the interpreter
/// asserts that nothing is spawned; the model's pools now run without a claim timeout
/// (the interpreter polls every checkout after every op, so no grant waits to be
/// claimed).
#[test]
fn pool_ops_single_checkout() {
    let cfg = Config {
        max_pool_size: 2,
        max_connecting: 1,
        wait_queue_timeout_ms: None,
        max_idle_ms: None,
        test_on_borrow_ms: None,
        fail_mask: 0,
    };
    if let Err(e) = model::run(&cfg, &[Op::CheckOut]) {
        panic!("{e}");
    }
}

/// The façade's one-call `deliver` and `close` (the fuzzer drives their steps one by
/// one): a cancelled head is skipped, the value reaches the next waiter, close refuses
/// the rest, and an empty queue gives the value back.
#[test]
fn waiter_queue_facade_deliver_and_close() {
    use std::task::Poll;

    use pool_core::fuzzing::WaiterQueue;

    let queue: WaiterQueue<&str> = WaiterQueue::new(4);
    let first = queue.enqueue().expect("room");
    let second = queue.enqueue().expect("room");
    let third = queue.enqueue().expect("room");
    assert_eq!(first.cancel(), None);
    assert_eq!(queue.deliver("conn"), Ok(second.id()));
    assert_eq!(second.poll(), Poll::Ready(Some("conn")));
    assert_eq!(queue.close(|| "closed"), 1);
    assert!(queue.is_closed() && queue.is_empty());
    assert_eq!(third.poll(), Poll::Ready(Some("closed")));
    assert_eq!(queue.deliver("late"), Err("late"));
    assert_eq!(
        first.poll(),
        Poll::Pending,
        "a cancelled waiter never receives"
    );
}

/// pool_ops timeout-d5821b4d: pool size 1, a 6 ms wait-queue timeout, 25 checkouts.
#[test]
fn pool_ops_many_queued_checkouts() {
    let cfg = Config {
        max_pool_size: 1,
        max_connecting: 2,
        wait_queue_timeout_ms: Some(6),
        max_idle_ms: Some(18),
        test_on_borrow_ms: None,
        fail_mask: 0,
    };
    let ops = vec![Op::CheckOut; 25];
    let mut all = vec![Op::MarkErrored(3), Op::MarkErrored(3)];
    all.extend(ops);
    if let Err(e) = model::run(&cfg, &all) {
        panic!("{e}");
    }
}
