//! The in-process stand-in for a server: a [`Manager`] whose `connect` sleeps, then
//! succeeds or refuses.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use poolcheck::{ConnectionId, Manager};

/// The mock server: refuses every `fail_every`-th connect attempt (0: never).
#[derive(Debug)]
pub(super) struct MockServer {
    latency: Duration,
    fail_every: u64,
    attempts: AtomicU64,
    refused: AtomicU64,
}

/// One mock connection (nothing to send or receive on).
#[derive(Debug)]
pub(super) struct MockConn;

/// The mock server's only error: an injected connect failure.
#[derive(Debug)]
pub(super) struct Refused {
    attempt: u64,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mock server refused connect attempt {} (injected failure)",
            self.attempt
        )
    }
}

impl std::error::Error for Refused {}

impl MockServer {
    /// A server whose connects take `latency` and fail every `fail_every`-th time.
    pub(super) fn new(latency: Duration, fail_every: u64) -> MockServer {
        MockServer {
            latency,
            fail_every,
            attempts: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Connect attempts so far, and how many were refused.
    pub(super) fn connects(&self) -> (u64, u64) {
        (self.attempts.load(Relaxed), self.refused.load(Relaxed))
    }
}

impl Manager for MockServer {
    type Connection = MockConn;
    type Error = Refused;

    async fn connect(&self, _id: ConnectionId) -> Result<MockConn, Refused> {
        let attempt = self.attempts.fetch_add(1, Relaxed) + 1;
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if self.fail_every != 0 && attempt % self.fail_every == 0 {
            self.refused.fetch_add(1, Relaxed);
            return Err(Refused { attempt });
        }
        Ok(MockConn)
    }

    fn close(&self, _conn: MockConn) {}
}
