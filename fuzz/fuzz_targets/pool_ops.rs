//! `pool_ops`: a sequence of pool operations on the real pool, single-threaded on the
//! deterministic manual-time executor, checked step by step against the sequential
//! reference model of `pool_core::fuzzing::model` (the one `pool-core/tests/model.rs`
//! runs under proptest).
//!
//! The input maps onto the same ranges as the proptest strategies: `maxPoolSize` 1–3,
//! `maxConnecting` 1–2, optional `waitQueueTimeoutMS` and `maxIdleTimeMS` of 5–39 ms,
//! check-in / mark-errored / cancel indices 0–7, time steps of 1–29 ms; at most 64 ops
//! (the pool's wait queue holds 64, which the model does not bound).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pool_core::fuzzing::model::{run, Config, Op, WAITERS_MAX};

#[derive(Arbitrary, Debug)]
struct Input {
    max_pool_size: u8,
    max_connecting: u8,
    wait_queue_timeout_ms: Option<u8>,
    max_idle_ms: Option<u8>,
    ops: Vec<FuzzOp>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum FuzzOp {
    CheckOut,
    CheckIn(u8),
    MarkErrored(u8),
    Cancel(u8),
    Clear,
    Ready,
    Close,
    Advance(u8),
}

impl From<FuzzOp> for Op {
    fn from(op: FuzzOp) -> Op {
        let index = |k: u8| usize::from(k % 8);
        match op {
            FuzzOp::CheckOut => Op::CheckOut,
            FuzzOp::CheckIn(k) => Op::CheckIn(index(k)),
            FuzzOp::MarkErrored(k) => Op::MarkErrored(index(k)),
            FuzzOp::Cancel(k) => Op::Cancel(index(k)),
            FuzzOp::Clear => Op::Clear,
            FuzzOp::Ready => Op::Ready,
            FuzzOp::Close => Op::Close,
            FuzzOp::Advance(ms) => Op::Advance(u64::from(ms % 29) + 1),
        }
    }
}

fuzz_target!(|input: Input| {
    let millis = |ms: u8| u64::from(ms % 35) + 5;
    let cfg = Config {
        max_pool_size: u32::from(input.max_pool_size % 3) + 1,
        max_connecting: u32::from(input.max_connecting % 2) + 1,
        wait_queue_timeout_ms: input.wait_queue_timeout_ms.map(millis),
        max_idle_ms: input.max_idle_ms.map(millis),
    };
    let ops: Vec<Op> = input
        .ops
        .iter()
        .take(WAITERS_MAX as usize)
        .map(|&op| op.into())
        .collect();
    if let Err(divergence) = run(&cfg, &ops) {
        panic!("pool and model diverge: {divergence}\nconfig: {cfg:?}\nops: {ops:?}");
    }
});
