//! The sequential reference model of the pool and the interpreter that checks the real
//! pool against it, step by step (shared by `tests/model.rs` and the `pool_ops` fuzz
//! target).
//!
//! Ops: check out, check in, mark errored, clear, ready, close, cancel a queued checkout,
//! advance time. [`run`] builds a real [`Pool`](crate::Pool) on a manual virtual-time
//! runtime (nothing is spawned, so the "executor" is the interpreter itself: after each op
//! it polls every unfinished checkout, in creation order, until nothing moves), applies
//! each op to the pool and to the model, and compares the pool's status and every checkout
//! outcome with the model's. The first divergence is returned as an `Err` describing the
//! step.
//!
//! - `ops.rs`: the operations ([`Op`]), the options a sequence runs with ([`Config`]),
//!   and the `pool_ops` fuzz target's `arbitrary` encoding of both ([`FuzzInput`],
//!   checked by [`fuzz`]).
//! - `reference.rs`: the sequential pool the real one is compared with.
//! - `runtime.rs`: the system under test's manager ([`Noop`]) and manual-time runtime.
//! - `interpreter.rs`: [`run`], which drives both sides and compares them.

mod interpreter;
mod ops;
mod reference;
mod runtime;

pub use interpreter::run;
pub use ops::{fuzz, Config, FuzzInput, Op, WAITERS_MAX};
pub use runtime::Noop;
