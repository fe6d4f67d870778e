//! Loom models of the engine's bounded FIFO ring (invariants R1–R3): concurrent pushes
//! and pops never lose, duplicate or reorder a value, and a full ring refuses cleanly.

mod common;

use common::{model, LoomBackend};
use loom::sync::Arc;
use loom::thread;
use pool_core::fuzzing::{Ring, Shelf};

/// R2: two producers and a consumer; every value comes out exactly once.
#[test]
fn concurrent_push_pop_loses_nothing() {
    model("concurrent_push_pop_loses_nothing", 3, || {
        let ring: Arc<Ring<u32, LoomBackend>> = Arc::new(Ring::new(2));
        let producers: Vec<_> = (1..=2)
            .map(|v| {
                let ring = ring.clone();
                thread::spawn(move || ring.push(v).expect("capacity 2 holds both"))
            })
            .collect();
        let consumer = {
            let ring = ring.clone();
            thread::spawn(move || ring.pop())
        };
        for p in producers {
            p.join().unwrap();
        }
        let mut seen: Vec<u32> = consumer.join().unwrap().into_iter().collect();
        while let Some(v) = ring.pop() {
            seen.push(v);
        }
        seen.sort_unstable();
        assert_eq!(seen, vec![1, 2], "R2: each value exactly once");
        assert!(ring.is_empty());
    });
}

/// R3: values pushed by one thread come out in order, while another thread pops.
#[test]
fn single_producer_order_is_kept() {
    model("single_producer_order_is_kept", 3, || {
        let ring: Arc<Ring<u32, LoomBackend>> = Arc::new(Ring::new(2));
        let producer = {
            let ring = ring.clone();
            thread::spawn(move || {
                for v in 1..=3 {
                    while ring.push(v).is_err() {
                        thread::yield_now();
                    }
                }
            })
        };
        let mut out = Vec::new();
        while out.len() < 3 {
            match ring.pop() {
                Some(v) => out.push(v),
                None => thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert_eq!(out, vec![1, 2, 3], "R3: FIFO");
    });
}

/// A full ring gives the value back instead of overwriting (R1).
#[test]
fn full_ring_refuses() {
    model("full_ring_refuses", 3, || {
        let ring: Arc<Ring<u32, LoomBackend>> = Arc::new(Ring::new(1));
        ring.push(1).unwrap();
        let pusher = {
            let ring = ring.clone();
            thread::spawn(move || ring.push(2))
        };
        let popped = ring.pop();
        let pushed = pusher.join().unwrap();
        assert_eq!(popped, Some(1));
        match pushed {
            Ok(()) => assert_eq!(ring.pop(), Some(2)),
            Err(v) => assert_eq!(v, 2, "the refused value comes back intact"),
        }
        assert!(ring.is_empty());
    });
}

/// Shelf S1, S2: a put racing two takes hands the value to exactly one taker, and a put
/// onto an occupied shelf gives its value back; nothing is lost or duplicated.
#[test]
fn shelf_moves_each_value_once() {
    model("shelf_moves_each_value_once", 3, || {
        let shelf: Arc<Shelf<u32, LoomBackend>> = Arc::new(Shelf::new());
        shelf.put(1).expect("an empty shelf takes a value");
        let putter = {
            let shelf = shelf.clone();
            thread::spawn(move || shelf.put(2).err())
        };
        let takers: Vec<_> = (0..2)
            .map(|_| {
                let shelf = shelf.clone();
                thread::spawn(move || shelf.take())
            })
            .collect();
        let mut seen: Vec<u32> = putter.join().unwrap().into_iter().collect();
        for t in takers {
            seen.extend(t.join().unwrap());
        }
        seen.extend(shelf.take());
        seen.sort_unstable();
        assert_eq!(seen, vec![1, 2], "S2: each value comes out exactly once");
    });
}
