//! tinypool judged by poolcheck's simulator: the adapter (about 70 lines) and the check.
//!
//! `cargo test` passes. `cargo test --features broken` fails with a message that names the
//! invariant, the seed, the shrunk case and the line that replays it:
//! `POOLCHECK_REPLAY='0x…' cargo test tinypool_is_correct`.

use std::time::Duration;

use pool_core::runtime::BoxFuture;
use sim::adapter::{
    self, AdapterError, ConnectFailure, PoolEvents, PoolSettings, PooledLease, TrackedConnection,
};
use sim::{Capabilities, CheckoutFailure, Lease, PoolParams, PoolStatus, PoolUnderTest};
use tinypool::{GetError, Pool};

/// tinypool's connector: connections over the simulated network, with their events.
struct SimConnector(adapter::Connector);

impl tinypool::Connector for SimConnector {
    type Conn = TrackedConnection;
    type Error = ConnectFailure;

    fn connect(&self) -> tinypool::BoxFuture<'_, Result<TrackedConnection, ConnectFailure>> {
        Box::pin(self.0.connect())
    }

    fn is_broken(&self, conn: &TrackedConnection) -> bool {
        conn.is_errored()
    }
}

/// tinypool behind `sim::PoolUnderTest`.
struct TinyAdapter {
    pool: Pool<SimConnector>,
    events: PoolEvents,
    params: PoolParams,
}

impl TinyAdapter {
    fn new(params: PoolParams) -> Result<TinyAdapter, AdapterError> {
        let settings = PoolSettings::from_options(&params.options)?;
        let events = PoolEvents::new(&params);
        let connector = SimConnector(adapter::Connector::new(&params, &events));
        let pool = Pool::new(connector, settings.max_size as usize);
        events.pool_ready();
        Ok(TinyAdapter {
            pool,
            events,
            params,
        })
    }
}

impl PoolUnderTest for TinyAdapter {
    fn check_out(&self, deadline: Duration) -> BoxFuture<Result<Lease, CheckoutFailure>> {
        let pool = self.pool.clone();
        let events = self.events.clone();
        let get = async move {
            pool.get().await.map_err(|error| match error {
                GetError::Closed => CheckoutFailure::PoolClosed,
                GetError::Connect(failure) => failure.into(),
            })
        };
        adapter::checkout(
            &self.events,
            &self.params.runtime,
            deadline,
            self.params.options.wait_queue_timeout,
            get,
            move |pooled| Lease::new(Box::new(PooledLease::new(&events, pooled))),
        )
    }

    // tinypool has no clear, pause or counts comparable with CMAP's.
    fn clear(&self, _interrupt_in_use: bool) {}

    fn ready(&self) {}

    fn close(&self) {
        if self.events.close() {
            self.pool.close();
        }
    }

    fn status(&self) -> Option<PoolStatus> {
        None
    }

    fn checkout_bound(&self) -> Option<Duration> {
        self.params.options.wait_queue_timeout
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_connecting: false,
            clear: false,
            ..Capabilities::CMAP
        }
    }
}

#[test]
fn tinypool_is_correct() {
    sim::Check::new(TinyAdapter::new)
        .name("tinypool")
        .scenarios(["standard", "calm"])
        .seeds(300)
        .shrink_budget(150)
        .jobs(2)
        .run()
        .assert_ok();
}
