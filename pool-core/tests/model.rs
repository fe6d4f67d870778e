//! Property test: random operation sequences on the real pool, single-threaded on a
//! manual virtual-time runtime, checked step by step against a plain sequential reference
//! model. proptest shrinks any divergence to a minimal sequence.
//!
//! The model and the interpreter live in `pool_core::fuzzing::model`, shared with the
//! `pool_ops` fuzz target (`fuzz/fuzz_targets/pool_ops.rs`): ops are check out, check
//! in, mark errored, clear, ready, close, cancel a queued checkout, advance time. A second
//! property runs the same with test-on-borrow on and a manager whose validation fails
//! for the connections a generated mask picks (the fuzz target leaves it off). After
//! each op the interpreter polls every unfinished checkout (in creation order) until
//! nothing moves, as an executor would, then compares the pool's status and every
//! checkout outcome with the model's.

use pool_core::fuzzing::model::{run, Config, Op};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::CheckOut),
        5 => (0usize..8).prop_map(Op::CheckIn),
        1 => (0usize..8).prop_map(Op::MarkErrored),
        2 => (0usize..8).prop_map(Op::Cancel),
        1 => Just(Op::Clear),
        2 => Just(Op::Ready),
        1 => Just(Op::Close),
        2 => (1u64..30).prop_map(Op::Advance),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    (
        1u32..=3,
        1u32..=2,
        prop::option::of(5u64..40),
        prop::option::of(5u64..40),
    )
        .prop_map(|(m, c, t, i)| Config {
            max_pool_size: m,
            max_connecting: c,
            wait_queue_timeout_ms: t,
            max_idle_ms: i,
            test_on_borrow_ms: None,
            fail_mask: 0,
        })
}

/// As [`config`], with test-on-borrow on: a bypass window of 0, 5 or 20 ms, and a
/// manager whose validation fails for the connections a generated mask picks.
fn validating_config() -> impl Strategy<Value = Config> {
    (
        config(),
        prop_oneof![Just(0u64), Just(5), Just(20)],
        any::<u8>(),
    )
        .prop_map(|(cfg, bypass, mask)| Config {
            test_on_borrow_ms: Some(bypass),
            fail_mask: mask,
            ..cfg
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// The pool and the sequential model agree on every step of every sequence.
    #[test]
    fn pool_matches_sequential_model(cfg in config(), ops in prop::collection::vec(op(), 1..40)) {
        run(&cfg, &ops).map_err(TestCaseError::fail)?;
    }

    /// With test-on-borrow and validations that fail per the generated mask, the pool and
    /// the model agree too: which connections are validated, which fail and are closed,
    /// what the checkout goes on with (another connection, a new one under the failed
    /// one's unit, or the queue), and the deadline check before a validation.
    #[test]
    fn pool_with_test_on_borrow_matches_sequential_model(
        cfg in validating_config(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        run(&cfg, &ops).map_err(TestCaseError::fail)?;
    }
}

/// The two sequences proptest once shrank failures to (kept in
/// `model.proptest-regressions` too), spelled out so they survive strategy changes.
#[test]
fn past_shrunk_failures_pass() {
    let cases = [
        (
            Config {
                max_pool_size: 2,
                max_connecting: 1,
                wait_queue_timeout_ms: None,
                max_idle_ms: None,
                test_on_borrow_ms: None,
                fail_mask: 0,
            },
            vec![
                Op::CheckOut,
                Op::CheckOut,
                Op::CheckIn(0),
                Op::CheckIn(0),
                Op::CheckOut,
            ],
        ),
        (
            Config {
                max_pool_size: 1,
                max_connecting: 1,
                wait_queue_timeout_ms: None,
                max_idle_ms: Some(5),
                test_on_borrow_ms: None,
                fail_mask: 0,
            },
            vec![Op::CheckOut, Op::CheckOut, Op::Advance(6), Op::CheckIn(0)],
        ),
    ];
    for (cfg, ops) in cases {
        if let Err(e) = run(&cfg, &ops) {
            panic!("{cfg:?} {ops:?}: {e}");
        }
    }
}
