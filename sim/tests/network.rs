//! Goal: the simulated network and mock-server behave as the fault vocabulary says, on
//! virtual time. Method: open connections with the simulation's manager to a real
//! mock-server on a tiny executor, inject one fault each, and check what the client sees
//! and when.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::doc;
use pool_core::ConnectionId;
use sim::executor::{Advance, Budget, Executor, TaskKind};
use sim::manager::{ConnectOutcome, ManagerObserver, SimManager};
use sim::net::{Latency, NetObserver, SimNet};
use sim::rng::Rng;
use sim::TaskId;

struct Quiet;
impl ManagerObserver for Quiet {
    fn connect_started(&self, _: ConnectionId, _: Option<TaskId>) {}
    fn connect_finished(&self, _: ConnectionId, _: ConnectOutcome) {}
    fn connection_dropped(&self, _: ConnectionId) {}
}
impl NetObserver for Quiet {
    fn server_connection_ended(&self, _: ConnectionId, _: &mock_server::ConnectionEnd) {}
}

const LATENCY: Duration = Duration::from_micros(100);

struct World {
    executor: Executor,
    net: SimNet,
    manager: SimManager,
}

fn world() -> World {
    let budget = Budget {
        steps_max: 100_000,
        time_max: Duration::from_secs(60),
    };
    let executor = Executor::new(Rng::new(1), budget).expect("executor");
    let rt = executor.handle();
    let server = Arc::new(mock_server::Server::new(Default::default()));
    let latency = Latency {
        min: LATENCY,
        max: LATENCY,
    };
    let net = SimNet::new(rt.clone(), server, Rng::new(2), latency, Arc::new(Quiet));
    let manager = SimManager::new(net.clone(), rt, Arc::new(Quiet));
    World {
        executor,
        net,
        manager,
    }
}

/// Runs until nothing is left; returns the virtual time of the last event.
fn run(executor: &mut Executor) {
    loop {
        executor.run_ready().expect("within budget");
        if executor.advance().expect("within budget") == Advance::Stalled {
            return;
        }
    }
}

type Log = Arc<Mutex<Vec<(Duration, String)>>>;

fn connect_and_ping(w: &World, log: &Log) {
    let (manager, rt, log) = (w.manager.clone(), w.executor.handle(), log.clone());
    w.executor.handle().spawn_task(
        TaskKind::Harness,
        Box::pin(async move {
            let result = manager.open(1).await;
            let entry = match result {
                Ok(mut conn) => {
                    let pong = conn.run_command("admin", doc! {"ping": 1}).await;
                    format!("ping ok={}", pong.is_ok())
                }
                Err(e) => format!("connect failed: {e}"),
            };
            log.lock().unwrap().push((rt.now(), entry));
        }),
    );
}

#[test]
fn a_healthy_connect_takes_round_trips() {
    let mut w = world();
    let log = Log::default();
    connect_and_ping(&w, &log);
    run(&mut w.executor);
    let log = log.lock().unwrap();
    // connect (1 RTT) + hello (1 RTT) + ping (1 RTT)
    assert_eq!(*log, vec![(LATENCY * 6, "ping ok=true".to_string())]);
}

#[test]
fn fail_point_block_runs_on_virtual_time() {
    let mut w = world();
    w.net
        .server()
        .configure_fail_point(&doc! {
            "configureFailPoint": "failCommand",
            "mode": {"times": 1},
            "data": {"failCommands": ["hello"], "blockConnection": true, "blockTimeMS": 100},
        })
        .expect("fail point");
    w.executor
        .handle()
        .set_server_sleeps(vec![Duration::from_millis(100)]);
    let log = Log::default();
    connect_and_ping(&w, &log);
    run(&mut w.executor);
    let log = log.lock().unwrap();
    // The hello reaches the server at 3 x latency; its block ends on the next whole
    // millisecond after 100 ms more; the reply and the ping take 3 more one-way trips.
    let blocked_until = Duration::from_millis(101);
    assert_eq!(
        *log,
        vec![(blocked_until + LATENCY * 3, "ping ok=true".to_string())]
    );
}

#[test]
fn hello_error_refusal_and_reset_reach_the_client() {
    let mut w = world();
    w.net
        .server()
        .configure_fail_point(&doc! {
            "configureFailPoint": "failCommand",
            "mode": {"times": 1},
            "data": {"failCommands": ["hello"], "errorCode": 91},
        })
        .expect("fail point");
    let log = Log::default();
    connect_and_ping(&w, &log);
    run(&mut w.executor);
    assert!(log.lock().unwrap()[0].1.contains("handshake failed"));

    let mut w = world();
    w.net
        .update_faults(|f| f.refuse_until = Duration::from_secs(1));
    let log = Log::default();
    connect_and_ping(&w, &log);
    run(&mut w.executor);
    assert!(log.lock().unwrap()[0].1.contains("refused"));

    // Reset while the ping is in flight: the client sees an error, not a hang.
    let mut w = world();
    let log = Log::default();
    connect_and_ping(&w, &log);
    let (net, rt) = (w.net.clone(), w.executor.handle());
    w.executor.handle().spawn_task(
        TaskKind::Harness,
        Box::pin(async move {
            rt.sleep(LATENCY * 5).await;
            assert!(net.reset(1));
        }),
    );
    run(&mut w.executor);
    assert_eq!(log.lock().unwrap()[0].1, "ping ok=false");
}

#[test]
fn a_partition_stalls_both_directions_until_it_heals() {
    let mut w = world();
    let heal = Duration::from_millis(50);
    w.net.update_faults(|f| f.partition_until = heal);
    let log = Log::default();
    connect_and_ping(&w, &log);
    run(&mut w.executor);
    let log = log.lock().unwrap();
    assert_eq!(*log, vec![(heal + LATENCY * 6, "ping ok=true".to_string())]);
}
