//! The adapter kit from the outside: a small pool written on Tokio (a
//! `tokio::sync::Semaphore`, a `Mutex<Vec<_>>` of idle connections, connects started with
//! `tokio::spawn`, the wait bounded by `tokio::time::timeout`) is adapted with
//! `sim::adapter` only and run through the simulator. It must not crash, must be
//! deterministic, and may be found only for the flaws it has by design, the classes bb8
//! is found for: each checkout that finds no idle connection waits for the connect it
//! spawned, so it may wait while another connection is checked in (LIVE, "… wait while
//! … available") and a later checkout whose connect finished first is served first
//! (FIFO). The same pool with no `TokioBridge` (plain
//! `tokio::spawn` in a checkout and at check-in) must not abort the process either: the
//! executor's ambient Tokio context runs its tasks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pool_core::runtime::BoxFuture;
use sim::adapter::{
    self, Connector, PoolEvents, PoolSettings, PooledLease, Returning, TokioBridge,
    TrackedConnection,
};
use sim::executor::{Advance, Budget, Executor, TaskKind};
use sim::pool_under_test::{Capabilities, PoolParams};
use sim::rng::Rng;
use sim::run::{run, RunConfig};
use sim::PoolFactory;
use sim::{CheckoutFailure, Invariant, Lease, PoolStatus, PoolUnderTest, RunReport, Scenario};
use tokio::sync::Semaphore;

/// The pool under test: what a user would write (it knows nothing of the simulator).
struct TokioPool {
    idle: Mutex<Vec<TrackedConnection>>,
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl TokioPool {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<TrackedConnection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A permit, then an idle connection or a new one made by a spawned task.
    async fn get(
        self: Arc<Self>,
        connector: Connector,
        bridge: Option<TokioBridge>,
    ) -> Result<Returning<impl FnOnce(TrackedConnection) + Send>, CheckoutFailure> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| CheckoutFailure::Timeout)?
            .map_err(|_| CheckoutFailure::PoolClosed)?;
        let reused = self.idle().pop();
        let (conn, permit) = match reused {
            Some(conn) => (conn, permit),
            None => {
                // The connect runs in a Tokio task that holds the permit until it is
                // done; if the checkout was dropped meanwhile, the new connection goes
                // idle instead of being lost (and the permit is released only then).
                let (send, receive) = tokio::sync::oneshot::channel();
                let pool = self.clone();
                let connect = connector.connect();
                let task = async move {
                    let result = connect.await;
                    if let Err(Ok(conn)) = send.send(result.map(|conn| (conn, permit))) {
                        pool.idle().push(conn.0);
                    }
                };
                match &bridge {
                    Some(bridge) => drop(tokio::spawn(bridge.pumped(task))),
                    None => drop(tokio::spawn(task)),
                }
                receive
                    .await
                    .map_err(|e| CheckoutFailure::Rejected(e.to_string()))??
            }
        };
        let pool = self.clone();
        let events = connector.events().clone();
        Ok(Returning::new(conn, move |conn| {
            // Check-in goes through a Tokio task, as some pools do.
            tokio::spawn(async move {
                if !conn.is_errored() && !events.is_closed() {
                    pool.idle().push(conn);
                }
                drop(permit);
            });
        }))
    }
}

/// Its adapter, on the kit.
struct Adapter {
    pool: Arc<TokioPool>,
    bridge: Option<TokioBridge>,
    connector: Connector,
    events: PoolEvents,
    params: PoolParams,
}

/// How long the pool waits when the seed sets no `waitQueueTimeout`.
const WAIT_DEFAULT: Duration = Duration::from_secs(3_600);

fn build(params: PoolParams, bridged: bool) -> Result<Arc<dyn PoolUnderTest>, String> {
    let settings = PoolSettings::from_options(&params.options).map_err(|e| e.to_string())?;
    let bridge = if bridged {
        Some(TokioBridge::new(&params.runtime).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let events = PoolEvents::new(&params);
    events.pool_ready();
    Ok(Arc::new(Adapter {
        pool: Arc::new(TokioPool {
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(settings.max_size as usize)),
            wait: settings.wait_queue_timeout.unwrap_or(WAIT_DEFAULT),
        }),
        bridge,
        connector: Connector::new(&params, &events),
        events,
        params,
    }))
}

fn build_bridged(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    build(params, true)
}

fn build_unbridged(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    build(params, false)
}

impl PoolUnderTest for Adapter {
    fn check_out(&self, deadline: Duration) -> BoxFuture<Result<Lease, CheckoutFailure>> {
        let get = self
            .pool
            .clone()
            .get(self.connector.clone(), self.bridge.clone());
        let events = self.events.clone();
        let wait = self.params.options.wait_queue_timeout;
        match self.bridge.clone() {
            Some(bridge) => {
                let get = bridge.wrap(get);
                adapter::checkout(&self.events, &self.params.runtime, deadline, wait, get, {
                    move |handle| {
                        Lease::new(Box::new(
                            PooledLease::new(&events, handle).dropped_in(&bridge),
                        ))
                    }
                })
            }
            None => adapter::checkout(
                &self.events,
                &self.params.runtime,
                deadline,
                wait,
                get,
                move |handle| Lease::new(Box::new(PooledLease::new(&events, handle))),
            ),
        }
    }

    fn clear(&self, _interrupt_in_use: bool) {}

    fn ready(&self) {}

    fn close(&self) {
        if self.events.close() {
            self.pool.permits.close();
            let idle = std::mem::take(&mut *self.pool.idle());
            drop(idle);
        }
    }

    fn status(&self) -> Option<PoolStatus> {
        None
    }

    fn checkout_bound(&self) -> Option<Duration> {
        self.params.options.wait_queue_timeout
    }

    // `..Capabilities::CMAP` keeps the adapter compiling when capabilities are added.
    #[allow(clippy::needless_update)]
    fn capabilities(&self) -> Capabilities {
        // Connects run in Tokio tasks, not in the checkout's task, so the oracle cannot
        // tell a checkout waiting for its own connect from one waiting for nothing:
        // `background_establishment` says so (LIVE then counts each pending connect as
        // serving one waiter). Without it LIVE flags a checkout that waits for its connect
        // while another connection is checked in.
        Capabilities {
            max_connecting: false,
            clear: false,
            background_establishment: true,
            ..Capabilities::CMAP
        }
    }
}

fn entry(name: &'static str, factory: sim::BuildFn) -> PoolFactory {
    PoolFactory::new(name, factory)
}

fn once(pool: &PoolFactory, scenario: &str, seed: u64) -> RunReport {
    run(&RunConfig::new(
        pool.clone(),
        Scenario::named(scenario).expect("known scenario"),
        seed,
    ))
    .expect("the world builds")
}

/// The findings this pool is known for (see the module doc), both from connecting in
/// Tokio tasks on behalf of one checkout each: LIVE (a checkout waits for its connect
/// although another connection was checked in meanwhile) and FIFO (a later checkout's
/// connect finishes first).
fn known(v: &sim::Violation) -> bool {
    (v.invariant == Invariant::Live && v.message.contains("wait while"))
        || v.invariant == Invariant::Fifo
}

#[test]
fn a_tokio_pool_on_the_kit_runs_deterministic_with_only_its_known_finding() {
    let pool = entry("kit-tokio", build_bridged);
    let mut clean = 0;
    for scenario in ["smoke", "standard"] {
        for seed in 1..=12 {
            let a = once(&pool, scenario, seed);
            let b = once(&pool, scenario, seed);
            assert_eq!(
                (a.trace_hash, a.trace_len),
                (b.trace_hash, b.trace_len),
                "{scenario} seed {seed} is not deterministic"
            );
            assert!(
                a.checkouts > 0,
                "{scenario} seed {seed} checked nothing out"
            );
            match a.violation {
                None => clean += 1,
                Some(v) => assert!(known(&v), "{scenario} seed {seed}: unexpected {v}"),
            }
        }
    }
    eprintln!("kit-tokio: {clean} of 24 seeds clean, the rest only its known findings");
    assert!(clean > 0, "no seed ran clean");
}

#[test]
fn a_tokio_pool_without_a_bridge_does_not_abort() {
    let pool = entry("kit-tokio-unbridged", build_unbridged);
    for seed in 1..=6 {
        let a = once(&pool, "standard", seed);
        let b = once(&pool, "standard", seed);
        assert_eq!(
            (a.trace_hash, a.trace_len),
            (b.trace_hash, b.trace_len),
            "seed {seed} is not deterministic"
        );
        assert!(a.checkouts > 0, "seed {seed} checked nothing out");
    }
}

fn drive(executor: &mut Executor, until: Duration) {
    loop {
        executor.run_ready().expect("within budget");
        match executor.advance().expect("within budget") {
            Advance::To(at) if at <= until => {}
            _ => return,
        }
    }
}

fn executor() -> Executor {
    Executor::new(
        Rng::new(7),
        Budget {
            steps_max: 1_000_000,
            time_max: Duration::from_secs(60),
        },
    )
    .expect("executor")
}

#[test]
fn tokio_sleeps_in_the_bridge_end_on_virtual_time() {
    let mut executor = executor();
    let runtime = executor.handle();
    let bridge = TokioBridge::new(&runtime).expect("bridge");
    let woke = Arc::new(AtomicU64::new(0));
    let (clock, flag) = (runtime.clone(), woke.clone());
    bridge.enter(|| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(clock.now().as_millis() as u64, Ordering::SeqCst);
        })
    });
    drive(&mut executor, Duration::from_secs(1));
    assert_eq!(woke.load(Ordering::SeqCst), 50);
}

#[test]
fn tokio_spawn_with_no_bridge_runs_on_the_ambient_pump() {
    let mut executor = executor();
    let runtime = executor.handle();
    let ran = Arc::new(AtomicU64::new(0));
    let flag = ran.clone();
    runtime.spawn_task(
        TaskKind::Harness,
        Box::pin(async move {
            tokio::spawn(async move {
                flag.store(1, Ordering::SeqCst);
            });
        }),
    );
    drive(&mut executor, Duration::from_secs(1));
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}
