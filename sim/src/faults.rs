//! The fault driver: injects the plan's faults at their times, through the simulated
//! network, mock-server's own controls (`configureFailPoint`, fault settings, restart)
//! and the pool's clear / ready.

use std::sync::Arc;
use std::time::Duration;

use bson::doc;

use crate::executor::TaskKind;
use crate::net::SimNet;
use crate::plan::{Fault, FaultKind};
use crate::rng::Rng;
use crate::workload::{ActiveGuard, Ctx};

/// Runs every fault of `faults` (sorted by time).
pub async fn driver(ctx: Ctx, net: SimNet, faults: Vec<Fault>, mut rng: Rng, guard: ActiveGuard) {
    for fault in faults {
        ctx.runtime.sleep_until(fault.at).await;
        inject(&ctx, &net, fault.kind, &mut rng);
    }
    drop(guard);
}

/// Runs `then` after `delay` as its own harness task.
fn later(ctx: &Ctx, delay: Duration, then: impl FnOnce(&Ctx) + Send + 'static) {
    let guard = ActiveGuard::new(&ctx.active);
    let task_ctx = ctx.clone();
    ctx.runtime.spawn_task(
        TaskKind::Harness,
        Box::pin(async move {
            task_ctx.runtime.sleep(delay).await;
            then(&task_ctx);
            drop(guard);
        }),
    );
}

/// Injects one fault now and records it in the trace. Network faults and fail points are
/// recorded after they take effect; a reset records what it hit; a restart or a clear is
/// recorded before the clear it causes, so the trace shows why the pool cleared.
fn inject(ctx: &Ctx, net: &SimNet, kind: FaultKind, rng: &mut Rng) {
    let label = fault_label(&kind);
    match kind {
        FaultKind::ResetCheckedOut => reset_checked_out(ctx, net, &label, rng),
        FaultKind::ServerRestart {
            downtime,
            interrupt,
        } => {
            let now = ctx.runtime.now();
            net.update_faults(|f| f.down_until = now + downtime);
            net.server().restart(false);
            ctx.runtime.set_server_sleeps(Vec::new());
            clear_then_ready(ctx, label, interrupt, downtime);
        }
        FaultKind::ClearPool { pause, interrupt } => clear_then_ready(ctx, label, interrupt, pause),
        FaultKind::HelloError { times, code } => {
            hello_error(net.server(), times, code);
            ctx.recorder.harness(label, true);
        }
        FaultKind::HelloBlock { times, block } => {
            hello_block(ctx, net.server(), times, block);
            ctx.recorder.harness(label, true);
        }
        FaultKind::ServerBlackHole { length } => {
            server_black_hole(ctx, net.server(), length);
            ctx.recorder.harness(label, true);
        }
        network => {
            network_fault(ctx.runtime.now(), net, network);
            ctx.recorder.harness(label, true);
        }
    }
}

/// The faults the simulated network applies by itself for a while: refused, delayed or
/// black-holed connects, a partition, a latency spike.
fn network_fault(now: Duration, net: &SimNet, kind: FaultKind) {
    match kind {
        FaultKind::RefuseConnects { length } => {
            net.update_faults(|f| f.refuse_until = now + length)
        }
        FaultKind::DelayConnects { length, delay } => net.update_faults(|f| {
            f.delay_until = now + length;
            f.connect_delay = delay;
        }),
        FaultKind::BlackHoleConnects { length } => {
            net.update_faults(|f| f.black_hole_until = now + length)
        }
        FaultKind::Partition { length } => net.update_faults(|f| f.partition_until = now + length),
        FaultKind::LatencySpike { length, extra } => net.update_faults(|f| {
            f.spike_until = now + length;
            f.spike = extra;
        }),
        other => debug_assert!(false, "not a network fault: {other}"),
    }
}

/// Resets the connection of one checked-out connection, picked by the seed.
fn reset_checked_out(ctx: &Ctx, net: &SimNet, label: &str, rng: &mut Rng) {
    let targets = ctx.recorder.in_use_connections();
    match rng.pick(&targets) {
        Some(id) => {
            net.reset(*id);
            ctx.recorder.harness(format!("{label} ({id})"), true);
        }
        None => ctx
            .recorder
            .harness(format!("{label}: none checked out"), false),
    }
}

/// Records the fault, clears the pool (asked for, so CLEAR knows) and marks it ready
/// again after `pause`.
fn clear_then_ready(ctx: &Ctx, label: String, interrupt: bool, pause: Duration) {
    ctx.recorder.harness(label, true);
    ctx.clear(interrupt);
    later(ctx, pause, |ctx| {
        ctx.recorder.harness("ready".to_string(), false);
        ctx.pool.ready();
    });
}

/// The next `times` handshakes fail with `code`.
fn hello_error(server: &mock_server::Server, times: u32, code: i32) {
    fail_point(
        server,
        doc! {
            "configureFailPoint": "failCommand",
            "mode": { "times": i64::from(times) },
            "data": { "failCommands": ["hello", "isMaster"], "errorCode": code },
        },
    );
}

/// The next `times` handshakes block for `block`; the fail point is turned off well
/// after the last of them could have started.
fn hello_block(ctx: &Ctx, server: &Arc<mock_server::Server>, times: u32, block: Duration) {
    let block_ms = i64::try_from(block.as_millis()).unwrap_or(i64::MAX);
    fail_point(
        server,
        doc! {
            "configureFailPoint": "failCommand",
            "mode": { "times": i64::from(times) },
            "data": {
                "failCommands": ["hello", "isMaster"],
                "blockConnection": true,
                "blockTimeMS": block_ms,
            },
        },
    );
    ctx.runtime.set_server_sleeps(vec![block]);
    let server = server.clone();
    later(ctx, block * 4 + Duration::from_secs(1), move |ctx| {
        fail_point(
            &server,
            doc! { "configureFailPoint": "failCommand", "mode": "off" },
        );
        ctx.runtime.set_server_sleeps(Vec::new());
    });
}

/// The server stops answering (it reads and drops) for `length`.
fn server_black_hole(ctx: &Ctx, server: &Arc<mock_server::Server>, length: Duration) {
    let mut faults = server.faults();
    faults.black_hole = true;
    server.set_faults(faults);
    let server = server.clone();
    later(ctx, length, move |ctx| {
        let mut faults = server.faults();
        faults.black_hole = false;
        server.set_faults(faults);
        ctx.recorder
            .harness("server black hole healed".to_string(), false);
    });
}

/// Runs `configureFailPoint` on the server (as if sent on `admin`).
fn fail_point(server: &mock_server::Server, command: bson::Document) {
    // The commands above are well-formed; a rejection would only mean the fault is not
    // injected, which the trace shows.
    let _ = server.configure_fail_point(&command);
}

fn fault_label(kind: &FaultKind) -> String {
    format!("fault: {kind}")
}
