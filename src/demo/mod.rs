//! `poolcheck demo`: the reference pool under concurrent load, judged while it runs by
//! the simulator's oracle.
//!
//! Many tasks on a multi-thread Tokio runtime check connections out of one pool, hold each
//! across a yield (or a short sleep), and check it in. The pool's connections come from
//! an in-process [`manager::MockServer`] whose `connect` sleeps a little and fails on
//! every `--connect-fail-every`-th attempt. Every `--error-every`-th use marks its
//! connection errored, as a network error would, so the pool keeps closing and replacing
//! connections and the injected connect failures actually happen.
//!
//! Every CMAP event the pool emits goes to a [`sim::Judge`], the oracle `poolcheck sim`
//! uses, on wall-clock time: MAX, LEAK, STALE, ACCT and IDLE are judged at every event
//! and every 50 ms, then once the load is over (nothing pending or checked out, the
//! pool's status agreeing with the events) and after `close()` (nothing left open). A
//! pool frees a closed connection's slot before it reports the close, so MAX lets one
//! creation per worker thread run ahead of a trailing `ConnectionClosed`; the connections
//! in use are bounded exactly. Any violation, or a task that does not finish, fails the
//! run.
//!
//! Layout: [`args`] (flags, pool options, the tasks' plan), [`manager`] (the mock server),
//! [`load`] (the tasks, the progress bar, the ticker), [`tally`] (counts for the summary),
//! [`report`] (the summary, as text or JSON), [`histogram`] (checkout latencies).

mod args;
mod histogram;
mod load;
mod manager;
mod report;
mod tally;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use pool_core::metrics::OtelMetrics;
use poolcheck::{CmapEvent, Pool};
use sim::oracle::OracleConfig;
use sim::{Judge, PoolStatus};

pub(crate) use self::args::DemoArgs;
use self::manager::MockServer;
use self::report::{Config, Outcome, Summary};
use self::tally::Tally;

/// The mock server's address, which is also the pool's name in its metrics.
const ADDRESS: &str = "mock:27017";

/// How long a condition may hold on wall-clock time before the oracle counts it.
const TOLERANCE: Duration = Duration::from_millis(100);

/// Runs the demo; the exit code is 0 when no invariant was violated, 1 otherwise.
pub(crate) fn run(args: &DemoArgs) -> ExitCode {
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("poolcheck: error: cannot start the Tokio runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let summary = match runtime.block_on(demo(args, workers)) {
        Ok(summary) => summary,
        Err(error) => {
            eprintln!("poolcheck: error: {error}");
            return ExitCode::from(1);
        }
    };
    if args.metrics_addr.is_some() && args.metrics_hold_ms > 0 {
        let code = print_summary(args, &summary);
        eprintln!(
            "poolcheck demo: serving the metrics {} ms more",
            args.metrics_hold_ms
        );
        runtime.block_on(tokio::time::sleep(Duration::from_millis(
            args.metrics_hold_ms,
        )));
        return code;
    }
    // Stop the pool's background task before printing.
    drop(runtime);
    print_summary(args, &summary)
}

/// Installs the Prometheus exporter at `addr` (the global `metrics` recorder); call it
/// inside the runtime, before the pool's metrics handler is made.
fn serve_metrics(addr: std::net::SocketAddr) -> Result<(), String> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .map_err(|error| format!("cannot serve metrics at {addr}: {error}"))?;
    eprintln!("poolcheck demo: metrics at http://{addr}/metrics");
    Ok(())
}

fn print_summary(args: &DemoArgs, summary: &Summary) -> ExitCode {
    if args.json {
        match serde_json::to_string_pretty(summary) {
            Ok(json) => println!("{json}"),
            Err(error) => {
                eprintln!("poolcheck: error: cannot write the summary as JSON: {error}");
                return ExitCode::from(1);
            }
        }
    } else {
        print!("{summary}");
    }
    if summary.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The judge for a pool with `args`' limits on `workers` threads.
fn judge(args: &DemoArgs, workers: usize) -> Judge {
    Judge::new(OracleConfig {
        tolerance: TOLERANCE,
        event_lag: event_lag(workers),
        ..OracleConfig::from_options(&args.pool_options())
    })
}

/// One creation per thread may be reported before another thread's trailing close.
fn event_lag(workers: usize) -> u32 {
    u32::try_from(workers).unwrap_or(u32::MAX)
}

async fn demo(args: &DemoArgs, workers: usize) -> Result<Summary, String> {
    let config = Config::new(args, workers);
    if !args.json {
        print!("{config}");
    }
    let judge = Arc::new(judge(args, workers));
    let tally = Arc::new(Tally::default());
    let server = MockServer::new(
        Duration::from_micros(args.connect_latency_us),
        args.connect_fail_every,
    );
    let (to_judge, to_tally) = (judge.clone(), tally.clone());
    let judged = move |event: &CmapEvent| {
        to_tally.event(event);
        to_judge.cmap(event);
    };
    let builder = Pool::builder(server)
        .address(ADDRESS)
        .options(args.pool_options());
    let builder = match args.metrics_addr {
        Some(addr) => {
            serve_metrics(addr)?;
            builder.event_handler(OtelMetrics::new(ADDRESS).then(judged))
        }
        None => builder.event_handler(judged),
    };
    let pool = builder
        .ready()
        .build()
        .map_err(|error| format!("cannot build the pool: {error}"))?;

    let load = load::run(&pool, &tally, &judge, args).await;
    // The tasks are done: nothing may be pending or out, and the status must agree.
    judge.quiescent(&PoolStatus::from_status(&pool.status()));
    let connects = pool.manager().connects();
    pool.close();
    let verdict = judge.finish(Some(&PoolStatus::from_status(&pool.status())));
    Ok(Summary::new(Outcome {
        config,
        load,
        tally,
        connects,
        verdict,
        event_lag: event_lag(workers),
    }))
}
