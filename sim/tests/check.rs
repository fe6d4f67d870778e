//! Goal: `sim::Check` is a harness for anyone's pool that never crashes because of it.
//!
//! Method: wrap poolcheck's own pool in adapters that misbehave in one place each (a
//! panic in checkout, in check-in, in a lease's drop, in a task the pool spawned, in
//! `status`, in `close`, in the pool's drop, in its build; a dependence on process state
//! instead of the seed) and check that each becomes a verdict — PANIC or NONDET, with a
//! seed and a replay line — while the process carries on. Built-in pools go through the
//! same public path (`Check::pool`), and a clean pool passes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pool_core::runtime::BoxFuture;
use pool_core::ConnectionId;
use sim::{
    Capabilities, Check, CheckoutFailure, Invariant, Lease, LeaseInner, PoolParams, PoolStatus,
    PoolUnderTest, SimConnection,
};

/// Where the wrapped pool panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    CheckOut,
    CheckIn,
    LeaseDrop,
    SpawnedTask,
    Status,
    Close,
    PoolDrop,
    Build,
}

/// poolcheck's pool with one fault.
struct Faulty {
    inner: Arc<dyn PoolUnderTest>,
    fault: Fault,
    params: PoolParams,
    calls: AtomicU64,
}

fn faulty(fault: Fault) -> impl Fn(PoolParams) -> Result<Faulty, String> + Send + Sync {
    move |params: PoolParams| {
        if fault == Fault::Build {
            panic!("the pool refuses to be built");
        }
        let inner = sim::pools::REFERENCE.pool_factory().build(params.clone())?;
        Ok(Faulty {
            inner,
            fault,
            params,
            calls: AtomicU64::new(0),
        })
    }
}

/// The third call of the faulty kind panics.
fn third(calls: &AtomicU64) -> bool {
    calls.fetch_add(1, Ordering::SeqCst) == 2
}

struct PanickyLease {
    inner: Lease,
}

impl LeaseInner for PanickyLease {
    fn id(&self) -> ConnectionId {
        self.inner.id()
    }

    fn connection(&mut self) -> &mut SimConnection {
        self.inner.connection()
    }

    fn mark_errored(&mut self) {
        self.inner.mark_errored();
    }
}

impl Drop for PanickyLease {
    fn drop(&mut self) {
        panic!("lease dropped");
    }
}

impl PoolUnderTest for Faulty {
    fn check_out(&self, deadline: Duration) -> BoxFuture<Result<Lease, CheckoutFailure>> {
        let fault = self.fault;
        if fault == Fault::CheckOut && third(&self.calls) {
            return Box::pin(async { panic!("check_out polled") });
        }
        if fault == Fault::SpawnedTask && third(&self.calls) {
            pool_core::Runtime::spawn(
                &self.params.runtime,
                Box::pin(async { panic!("a background task of the pool") }),
            );
        }
        let lease_panics = fault == Fault::LeaseDrop && third(&self.calls);
        let inner = self.inner.check_out(deadline);
        Box::pin(async move {
            let lease = inner.await?;
            if lease_panics {
                return Ok(Lease::new(Box::new(PanickyLease { inner: lease })));
            }
            Ok(lease)
        })
    }

    fn check_in(&self, lease: Lease) {
        if self.fault == Fault::CheckIn && third(&self.calls) {
            panic!("check_in");
        }
        self.inner.check_in(lease);
    }

    fn clear(&self, interrupt_in_use: bool) {
        self.inner.clear(interrupt_in_use);
    }

    fn ready(&self) {
        self.inner.ready();
    }

    fn close(&self) {
        if self.fault == Fault::Close {
            panic!("close");
        }
        self.inner.close();
    }

    fn status(&self) -> Option<PoolStatus> {
        if self.fault == Fault::Status && third(&self.calls) {
            panic!("status");
        }
        self.inner.status()
    }

    fn checkout_bound(&self) -> Option<Duration> {
        self.inner.checkout_bound()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

impl Drop for Faulty {
    fn drop(&mut self) {
        if self.fault == Fault::PoolDrop {
            panic!("pool dropped");
        }
    }
}

fn check(fault: Fault) -> Check {
    Check::new(faulty(fault))
        .name(format!("faulty-{fault:?}"))
        .scenarios(["smoke"])
        .seeds(3)
        .jobs(2)
        .shrink_budget(20)
        .ignore_env()
}

#[test]
fn every_panic_of_the_pool_is_a_verdict_with_a_replay_line() {
    for fault in [
        Fault::CheckOut,
        Fault::CheckIn,
        Fault::LeaseDrop,
        Fault::SpawnedTask,
        Fault::Status,
        Fault::Close,
        Fault::PoolDrop,
        Fault::Build,
    ] {
        let report = check(fault).test_name("my_test").run();
        assert!(report.error.is_none(), "{fault:?}: {report}");
        assert!(!report.is_ok(), "{fault:?} was not caught");
        let failure = report.failures().next().expect("a failure");
        assert_eq!(
            failure.violation.invariant,
            Invariant::Panic,
            "{fault:?}: {}",
            failure.violation
        );
        assert_eq!(failure.seed, 1, "{fault:?} fails its first seed");
        let text = report.to_string();
        assert!(
            text.contains("POOLCHECK_REPLAY='0x1") && text.contains("cargo test my_test"),
            "{fault:?}: {text}"
        );
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| report.assert_ok()));
        assert!(caught.is_err(), "assert_ok panics on a failure");
    }
}

#[test]
fn the_reference_pool_and_a_caught_zoo_member_go_through_the_same_path() {
    let clean = Check::pool(&sim::pools::REFERENCE)
        .scenarios(["smoke", "smoke-zombie"])
        .seeds(10)
        .ignore_env()
        .run();
    assert!(clean.is_ok(), "{clean}");
    assert_eq!(clean.sweeps.len(), 2);
    assert!(clean.sweeps.iter().all(|s| s.determinism_checked == 4));

    let zoo = sim::pools::find("zoo-lost-wakeup").expect("a zoo member");
    let caught = Check::pool(zoo)
        .seeds(100)
        .shrink(false)
        .test_name("zoo")
        .ignore_env()
        .run();
    assert_eq!(
        caught.first_violation().map(|v| v.invariant),
        Some(Invariant::Live),
        "{caught}"
    );
}

/// A pool whose behaviour depends on how often it ran in this process, not on the seed.
fn process_dependent(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    static BUILDS: AtomicU64 = AtomicU64::new(0);
    let n = BUILDS.fetch_add(1, Ordering::SeqCst);
    let inner = sim::pools::REFERENCE.pool_factory().build(params.clone())?;
    struct Drifting {
        inner: Arc<dyn PoolUnderTest>,
        runtime: sim::SimRuntime,
        delay: Duration,
    }
    impl PoolUnderTest for Drifting {
        fn check_out(&self, deadline: Duration) -> BoxFuture<Result<Lease, CheckoutFailure>> {
            let (rt, delay, inner) = (self.runtime.clone(), self.delay, self.inner.clone());
            Box::pin(async move {
                rt.sleep(delay).await;
                inner.check_out(deadline).await
            })
        }
        fn clear(&self, interrupt: bool) {
            self.inner.clear(interrupt);
        }
        fn ready(&self) {
            self.inner.ready();
        }
        fn close(&self) {
            self.inner.close();
        }
        fn status(&self) -> Option<PoolStatus> {
            self.inner.status()
        }
    }
    Ok(Arc::new(Drifting {
        inner,
        runtime: params.runtime,
        delay: Duration::from_micros(n % 7),
    }))
}

#[test]
fn a_pool_that_ignores_the_seed_is_judged_nondet() {
    let report = Check::new(process_dependent)
        .scenarios(["smoke"])
        .seeds(8)
        .jobs(1)
        .ignore_env()
        .run();
    assert_eq!(
        report.first_violation().map(|v| v.invariant),
        Some(Invariant::Nondet),
        "{report}"
    );
    let off = Check::new(process_dependent)
        .scenarios(["smoke"])
        .seeds(8)
        .determinism_checks(0)
        .ignore_env()
        .run();
    assert!(off.is_ok(), "without the self-check it passes: {off}");
}

#[test]
fn all_violations_keeps_the_ones_behind_the_first() {
    let zoo = sim::pools::find("zoo-dead-waiter").expect("a zoo member");
    let first_only = Check::pool(zoo).seeds(30).shrink(false).ignore_env().run();
    let all = Check::pool(zoo)
        .seeds(30)
        .shrink(false)
        .all_violations(true)
        .ignore_env()
        .run();
    let one = first_only.failures().next().expect("caught");
    let many = all.failures().next().expect("caught");
    assert_eq!(one.violations.len(), 1);
    assert_eq!(one.seed, many.seed);
    assert_eq!(
        one.violation, many.violation,
        "the first violation is the same"
    );
    assert!(many.violations.len() > 1, "{all}");
}

#[test]
fn a_check_that_cannot_run_says_why() {
    let report = Check::pool(&sim::pools::REFERENCE)
        .scenarios(["no-such-scenario"])
        .ignore_env()
        .run();
    assert!(!report.is_ok());
    assert!(report.to_string().contains("unknown scenario"), "{report}");
    let refused = Check::new(|_: PoolParams| -> Result<Faulty, &str> { Err("no thanks") })
        .scenarios(["smoke"])
        .seeds(1)
        .ignore_env()
        .run();
    assert!(refused.to_string().contains("no thanks"), "{refused}");
}
