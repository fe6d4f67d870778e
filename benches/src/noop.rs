//! The no-op connection, one manager per pool, and the [`AsyncPool`] trait that lets the
//! `checkout` bench run the very same loop over every async pool.
//!
//! Every manager makes a [`NoopConnection`] at once, never fails, and (where the pool
//! asks) reports it valid without doing anything. Health checks on checkout are switched
//! off where a pool has the option (bb8, mobc, r2d2); deadpool always calls `recycle`,
//! which here does nothing. Every pool holds [`POOL_SIZE`] connections, all created
//! before measuring ([`AsyncPool::fill`]).

#![allow(clippy::new_without_default)] // `new()` needs a Tokio runtime; `Default` would hide that.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use tokio::sync::Semaphore;

use crate::POOL_SIZE;

/// A connection that is nothing but its number.
#[derive(Debug)]
pub struct NoopConnection(pub u64);

/// A pool the `checkout` bench can drive from Tokio tasks.
pub trait AsyncPool: Clone + Send + Sync + 'static {
    /// One checkout and one check-in of a connection (the connection is touched through
    /// `black_box` in between).
    fn cycle(&self) -> impl Future<Output = ()> + Send;

    /// Like [`AsyncPool::cycle`], but the connection is held across one
    /// `tokio::task::yield_now()`, so that with more tasks than connections the pool is
    /// truly exhausted and every checkout waits in the queue for a hand-off.
    fn cycle_held(&self) -> impl Future<Output = ()> + Send;

    /// Creates every connection: checks [`POOL_SIZE`] out at once, then returns them.
    fn fill(&self) -> impl Future<Output = ()> + Send;
}

// ----- poolcheck (pool-core) -----

/// pool-core's [`Manager`](pool_core::Manager) of no-op connections.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolcheckNoop;

impl pool_core::Manager for PoolcheckNoop {
    type Connection = NoopConnection;
    type Error = Infallible;

    async fn connect(&self, id: pool_core::ConnectionId) -> Result<NoopConnection, Infallible> {
        Ok(NoopConnection(id))
    }
}

/// poolcheck's pool over no-op connections.
#[derive(Clone, Debug)]
pub struct Poolcheck(pub pool_core::Pool<PoolcheckNoop>);

impl Poolcheck {
    /// A ready pool of [`POOL_SIZE`], no maintenance task, no wait queue timeout, no
    /// events. Must be called inside a Tokio runtime.
    pub fn new() -> Poolcheck {
        let pool = pool_core::Pool::builder(PoolcheckNoop)
            .max_pool_size(POOL_SIZE)
            .maintenance_interval(None)
            .ready()
            .build()
            .expect("poolcheck pool: valid options inside a Tokio runtime");
        Poolcheck(pool)
    }
}

impl AsyncPool for Poolcheck {
    // `get`: the guard borrows the pool (as bb8's `get` does), the form a request
    // handler uses; `check_out`'s owned guard costs two more atomic RMWs.
    async fn cycle(&self) {
        let conn = self.0.get().await.expect("poolcheck checkout");
        black_box(&conn.0);
        drop(conn);
    }

    async fn cycle_held(&self) {
        let conn = self.0.get().await.expect("poolcheck checkout");
        tokio::task::yield_now().await;
        black_box(&conn.0);
        drop(conn);
    }

    async fn fill(&self) {
        let mut held = Vec::new();
        for _ in 0..POOL_SIZE {
            held.push(self.0.check_out().await.expect("poolcheck checkout"));
        }
        drop(held);
        let status = self.0.status();
        assert_eq!(status.total, POOL_SIZE, "poolcheck pool not filled");
    }
}

// ----- deadpool -----

/// deadpool's managed [`Manager`](deadpool::managed::Manager) of no-op connections.
#[derive(Debug, Default)]
pub struct DeadpoolNoop {
    next: std::sync::atomic::AtomicU64,
}

impl deadpool::managed::Manager for DeadpoolNoop {
    type Type = NoopConnection;
    type Error = Infallible;

    async fn create(&self) -> Result<NoopConnection, Infallible> {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(NoopConnection(id))
    }

    async fn recycle(
        &self,
        _conn: &mut NoopConnection,
        _metrics: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Infallible> {
        Ok(())
    }
}

/// deadpool 0.12 (managed, Tokio runtime) over no-op connections.
#[derive(Clone, Debug)]
pub struct Deadpool(pub deadpool::managed::Pool<DeadpoolNoop>);

impl Deadpool {
    /// A pool of [`POOL_SIZE`], no timeouts.
    pub fn new() -> Deadpool {
        let pool = deadpool::managed::Pool::builder(DeadpoolNoop::default())
            .max_size(POOL_SIZE as usize)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .expect("deadpool: valid options");
        Deadpool(pool)
    }
}

impl AsyncPool for Deadpool {
    async fn cycle(&self) {
        let conn = self.0.get().await.expect("deadpool get");
        black_box(&conn.0);
        drop(conn);
    }

    async fn cycle_held(&self) {
        let conn = self.0.get().await.expect("deadpool get");
        tokio::task::yield_now().await;
        black_box(&conn.0);
        drop(conn);
    }

    async fn fill(&self) {
        let mut held = Vec::new();
        for _ in 0..POOL_SIZE {
            held.push(self.0.get().await.expect("deadpool get"));
        }
        drop(held);
        assert_eq!(
            self.0.status().size,
            POOL_SIZE as usize,
            "deadpool not filled"
        );
    }
}

// ----- bb8 -----

/// bb8's [`ManageConnection`](bb8::ManageConnection) of no-op connections.
#[derive(Debug, Default)]
pub struct Bb8Noop {
    next: std::sync::atomic::AtomicU64,
}

impl bb8::ManageConnection for Bb8Noop {
    type Connection = NoopConnection;
    type Error = Infallible;

    async fn connect(&self) -> Result<NoopConnection, Infallible> {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(NoopConnection(id))
    }

    async fn is_valid(&self, _conn: &mut NoopConnection) -> Result<(), Infallible> {
        Ok(())
    }

    fn has_broken(&self, _conn: &mut NoopConnection) -> bool {
        false
    }
}

/// bb8 0.9 over no-op connections.
#[derive(Clone, Debug)]
pub struct Bb8(pub bb8::Pool<Bb8Noop>);

impl Bb8 {
    /// A pool of [`POOL_SIZE`] without checkout health checks. Inside a Tokio runtime.
    pub async fn new() -> Bb8 {
        let pool = bb8::Pool::builder()
            .max_size(POOL_SIZE)
            .test_on_check_out(false)
            .build(Bb8Noop::default())
            .await
            .expect("bb8: valid options");
        Bb8(pool)
    }
}

impl AsyncPool for Bb8 {
    async fn cycle(&self) {
        let conn = self.0.get().await.expect("bb8 get");
        black_box(&conn.0);
        drop(conn);
    }

    async fn cycle_held(&self) {
        let conn = self.0.get().await.expect("bb8 get");
        tokio::task::yield_now().await;
        black_box(&conn.0);
        drop(conn);
    }

    async fn fill(&self) {
        let mut held = Vec::new();
        for _ in 0..POOL_SIZE {
            held.push(self.0.get().await.expect("bb8 get"));
        }
        drop(held);
        assert_eq!(self.0.state().connections, POOL_SIZE, "bb8 not filled");
    }
}

// ----- mobc -----

/// mobc's [`Manager`](mobc::Manager) of no-op connections.
#[derive(Debug, Default)]
pub struct MobcNoop {
    next: std::sync::atomic::AtomicU64,
}

#[mobc::async_trait]
impl mobc::Manager for MobcNoop {
    type Connection = NoopConnection;
    type Error = Infallible;

    async fn connect(&self) -> Result<NoopConnection, Infallible> {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(NoopConnection(id))
    }

    async fn check(&self, conn: NoopConnection) -> Result<NoopConnection, Infallible> {
        Ok(conn)
    }
}

/// mobc 0.9 over no-op connections.
#[derive(Clone)]
pub struct Mobc(pub mobc::Pool<MobcNoop>);

impl std::fmt::Debug for Mobc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mobc")
    }
}

impl Mobc {
    /// A pool of [`POOL_SIZE`] open and idle connections, without checkout health checks.
    /// Inside a Tokio runtime.
    pub fn new() -> Mobc {
        let pool = mobc::Pool::builder()
            .max_open(u64::from(POOL_SIZE))
            .max_idle(u64::from(POOL_SIZE))
            .test_on_check_out(false)
            .build(MobcNoop::default());
        Mobc(pool)
    }
}

impl AsyncPool for Mobc {
    async fn cycle(&self) {
        let conn = self.0.get().await.expect("mobc get");
        black_box(&conn.0);
        drop(conn);
    }

    async fn cycle_held(&self) {
        let conn = self.0.get().await.expect("mobc get");
        tokio::task::yield_now().await;
        black_box(&conn.0);
        drop(conn);
    }

    async fn fill(&self) {
        let mut held = Vec::new();
        for _ in 0..POOL_SIZE {
            held.push(self.0.get().await.expect("mobc get"));
        }
        drop(held);
        // mobc checks connections in on a spawned task: let those run.
        for _ in 0..100 {
            if self.0.state().await.idle == POOL_SIZE as u64 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        panic!("mobc not filled: {:?}", self.0.state().await);
    }
}

// ----- semaphore + ArrayQueue baseline -----

/// The baseline: a `tokio::sync::Semaphore` of [`POOL_SIZE`] permits guarding a
/// `crossbeam_queue::ArrayQueue` of connections. About the least a correct async pool with
/// a FIFO wait queue can do.
#[derive(Clone, Debug)]
pub struct SemaphorePool(Arc<SemaphoreInner>);

#[derive(Debug)]
struct SemaphoreInner {
    permits: Semaphore,
    idle: ArrayQueue<NoopConnection>,
}

impl SemaphorePool {
    /// A full pool of [`POOL_SIZE`] connections.
    pub fn new() -> SemaphorePool {
        let idle = ArrayQueue::new(POOL_SIZE as usize);
        for id in 0..u64::from(POOL_SIZE) {
            idle.push(NoopConnection(id))
                .expect("the queue holds POOL_SIZE connections");
        }
        SemaphorePool(Arc::new(SemaphoreInner {
            permits: Semaphore::new(POOL_SIZE as usize),
            idle,
        }))
    }
}

/// A connection checked out of the [`SemaphorePool`]; dropping it checks it in.
#[derive(Debug)]
pub struct SemaphoreGuard<'a> {
    pool: &'a SemaphoreInner,
    conn: Option<NoopConnection>,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl SemaphoreGuard<'_> {
    /// The connection.
    pub fn connection(&self) -> &NoopConnection {
        self.conn.as_ref().expect("present until drop")
    }
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // The connection goes back before the permit (dropped after this body).
            let _ = self.pool.idle.push(conn);
        }
    }
}

impl SemaphorePool {
    /// Checks a connection out.
    pub async fn get(&self) -> SemaphoreGuard<'_> {
        let permit = self.0.permits.acquire().await.expect("never closed");
        let conn = self.0.idle.pop().expect("a permit guarantees a connection");
        SemaphoreGuard {
            pool: &self.0,
            conn: Some(conn),
            _permit: permit,
        }
    }
}

impl AsyncPool for SemaphorePool {
    async fn cycle(&self) {
        let conn = self.get().await;
        black_box(&conn.connection().0);
        drop(conn);
    }

    async fn cycle_held(&self) {
        let conn = self.get().await;
        tokio::task::yield_now().await;
        black_box(&conn.connection().0);
        drop(conn);
    }

    async fn fill(&self) {}
}

// ----- r2d2 (blocking) -----

/// r2d2's [`ManageConnection`](r2d2::ManageConnection) of no-op connections.
#[derive(Debug, Default)]
pub struct R2d2Noop {
    next: std::sync::atomic::AtomicU64,
}

impl r2d2::ManageConnection for R2d2Noop {
    type Connection = NoopConnection;
    type Error = std::io::Error;

    fn connect(&self) -> Result<NoopConnection, std::io::Error> {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(NoopConnection(id))
    }

    fn is_valid(&self, _conn: &mut NoopConnection) -> Result<(), std::io::Error> {
        Ok(())
    }

    fn has_broken(&self, _conn: &mut NoopConnection) -> bool {
        false
    }
}

/// r2d2 0.8 (blocking) over no-op connections: [`POOL_SIZE`] connections, all made at
/// build time, no checkout health check.
pub fn r2d2_pool() -> r2d2::Pool<R2d2Noop> {
    r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(POOL_SIZE))
        .test_on_check_out(false)
        .build(R2d2Noop::default())
        .expect("r2d2: valid options")
}
