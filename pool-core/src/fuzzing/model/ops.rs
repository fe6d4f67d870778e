//! What a sequence is made of: the operations, the pool options it runs with, and the
//! `pool_ops` fuzz target's `arbitrary` encoding of both.

use arbitrary::Arbitrary;

use super::interpreter::run;

/// One step of a sequence. Indices are taken modulo the number of candidates (and the
/// op is a no-op when there is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Start a checkout and poll it once.
    CheckOut,
    /// Check in the `n`-th held connection.
    CheckIn(usize),
    /// Mark the `n`-th held connection errored (it is closed on check-in).
    MarkErrored(usize),
    /// Drop the `n`-th still-waiting checkout.
    Cancel(usize),
    /// `pool.clear(false)`: new generation, pool paused.
    Clear,
    /// `pool.ready()`.
    Ready,
    /// `pool.close()`.
    Close,
    /// Move virtual time on by this many milliseconds.
    Advance(u64),
}

/// The pool options a sequence runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `maxPoolSize` (>= 1).
    pub max_pool_size: u32,
    /// `maxConnecting` (>= 1).
    pub max_connecting: u32,
    /// `waitQueueTimeoutMS`, if any.
    pub wait_queue_timeout_ms: Option<u64>,
    /// `maxIdleTimeMS`, if any.
    pub max_idle_ms: Option<u64>,
    /// `testOnBorrow` with this `validationBypassMS`, if on.
    pub test_on_borrow_ms: Option<u64>,
    /// Connection `id` fails its validation when bit `id % 8` is set (see `Noop`).
    pub fail_mask: u8,
}

/// The most checkouts one sequence may leave queued (the pool's `waiters_max`).
pub const WAITERS_MAX: u32 = 64;

/// The `pool_ops` fuzz target's input: a sequence of pool operations on the real pool,
/// single-threaded on the deterministic manual-time executor, checked step by step
/// against the sequential reference model by [`fuzz`] (the one `pool-core/tests/model.rs`
/// runs under proptest).
///
/// The input maps onto the same ranges as the proptest strategies: `maxPoolSize` 1–3,
/// `maxConnecting` 1–2, optional `waitQueueTimeoutMS` and `maxIdleTimeMS` of 5–39 ms,
/// check-in / mark-errored / cancel indices 0–7, time steps of 1–29 ms; at most 64 ops
/// (the pool's wait queue holds 64, which the model does not bound).
#[derive(Arbitrary, Debug)]
pub struct FuzzInput {
    max_pool_size: u8,
    max_connecting: u8,
    wait_queue_timeout_ms: Option<u8>,
    max_idle_ms: Option<u8>,
    ops: Vec<FuzzOp>,
}

/// An [`Op`] as the fuzzer spells it.
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

impl FuzzInput {
    /// The options and the operations `self` stands for.
    pub fn decode(&self) -> (Config, Vec<Op>) {
        let millis = |ms: u8| u64::from(ms % 35) + 5;
        let cfg = Config {
            max_pool_size: u32::from(self.max_pool_size % 3) + 1,
            max_connecting: u32::from(self.max_connecting % 2) + 1,
            wait_queue_timeout_ms: self.wait_queue_timeout_ms.map(millis),
            max_idle_ms: self.max_idle_ms.map(millis),
            // Not in the fuzz encoding (so existing corpora decode as before).
            test_on_borrow_ms: None,
            fail_mask: 0,
        };
        let ops = self
            .ops
            .iter()
            .take(WAITERS_MAX as usize)
            .map(|&op| op.into())
            .collect();
        (cfg, ops)
    }
}

/// The `pool_ops` fuzz target: runs `input` (see [`FuzzInput`] for what it stands for)
/// against the pool and the model with [`run`].
///
/// # Panics
/// When the pool and the model diverge (the message names the step, the options and the
/// operations).
pub fn fuzz(input: &FuzzInput) {
    let (cfg, ops) = input.decode();
    if let Err(divergence) = run(&cfg, &ops) {
        panic!("pool and model diverge: {divergence}\nconfig: {cfg:?}\nops: {ops:?}");
    }
}
