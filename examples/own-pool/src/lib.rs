//! `tinypool`: a small async connection pool, written the way many are, to show how a pool
//! author checks their own pool with poolcheck's simulator from their own `cargo test`
//! (see `tests/poolcheck.rs`).
//!
//! Design: a FIFO `tokio::sync::Semaphore` bounds the connections (one permit per
//! connection, idle or in use); idle connections wait in a `Mutex<Vec<_>>`. A checkout
//! takes a permit, then an idle connection if there is one, else connects in its own task.
//! Returning a connection puts it back (or drops it, if its user marked it broken) and
//! releases the permit. Nothing here needs a runtime: the pool works under Tokio, or under
//! the simulator's virtual time.
//!
//! The cargo feature `broken` switches on one realistic bug: when a connect fails, the
//! permit is forgotten instead of released, so every failed connect shrinks the pool for
//! good, and under enough failures checkouts wait beside capacity nobody can use.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Makes connections for the pool.
pub trait Connector: Send + Sync + 'static {
    /// A connection.
    type Conn: Send + 'static;
    /// Why a connect failed.
    type Error: Send + 'static;
    /// Opens one connection.
    fn connect(&self) -> BoxFuture<'_, Result<Self::Conn, Self::Error>>;

    /// True if `conn` must not be reused (checked when it comes back).
    fn is_broken(&self, conn: &Self::Conn) -> bool {
        let _ = conn;
        false
    }
}

/// Why a checkout failed.
#[derive(Debug)]
pub enum GetError<E> {
    /// The pool is closed.
    Closed,
    /// Connecting failed.
    Connect(E),
}

struct Inner<C: Connector> {
    connector: C,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<C::Conn>>,
}

impl<C: Connector> Inner<C> {
    fn idle(&self) -> MutexGuard<'_, Vec<C::Conn>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The pool. Cheap to clone.
pub struct Pool<C: Connector> {
    inner: Arc<Inner<C>>,
}

impl<C: Connector> Clone for Pool<C> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
        }
    }
}

impl<C: Connector> Pool<C> {
    /// A pool of at most `max_size` connections (at least 1).
    pub fn new(connector: C, max_size: usize) -> Pool<C> {
        Pool {
            inner: Arc::new(Inner {
                connector,
                permits: Arc::new(Semaphore::new(max_size.max(1))),
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Checks a connection out: an idle one if there is one, else a new one. Waits (FIFO)
    /// while `max_size` connections exist. Cancel-safe.
    pub async fn get(&self) -> Result<Pooled<C>, GetError<C::Error>> {
        let permit = self
            .inner
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| GetError::Closed)?;
        let idle = self.inner.idle().pop();
        if let Some(conn) = idle {
            return Ok(Pooled::new(self, conn, permit));
        }
        match self.inner.connector.connect().await {
            Ok(conn) => Ok(Pooled::new(self, conn, permit)),
            Err(error) => {
                if cfg!(feature = "broken") {
                    // The bug: the permit of a failed connect is never given back.
                    permit.forget();
                }
                Err(GetError::Connect(error))
            }
        }
    }

    /// Closes the pool: checkouts fail from now on and idle connections are dropped;
    /// connections in use are dropped when they come back.
    pub fn close(&self) {
        self.inner.permits.close();
        let idle = std::mem::take(&mut *self.inner.idle());
        drop(idle);
    }

    /// Idle connections now.
    pub fn idle_count(&self) -> usize {
        self.inner.idle().len()
    }
}

/// A checked-out connection; dropping it returns it to the pool.
pub struct Pooled<C: Connector> {
    conn: Option<C::Conn>,
    broken: bool,
    pool: Arc<Inner<C>>,
    permit: Option<OwnedSemaphorePermit>,
}

impl<C: Connector> Pooled<C> {
    fn new(pool: &Pool<C>, conn: C::Conn, permit: OwnedSemaphorePermit) -> Pooled<C> {
        Pooled {
            conn: Some(conn),
            broken: false,
            pool: pool.inner.clone(),
            permit: Some(permit),
        }
    }

    /// Marks it broken: it is dropped instead of reused.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }
}

impl<C: Connector> std::ops::Deref for Pooled<C> {
    type Target = C::Conn;

    fn deref(&self) -> &C::Conn {
        // `conn` is `Some` from `Pooled::new` until `drop` takes it.
        self.conn
            .as_ref()
            .expect("a Pooled holds its connection until dropped")
    }
}

impl<C: Connector> std::ops::DerefMut for Pooled<C> {
    fn deref_mut(&mut self) -> &mut C::Conn {
        self.conn
            .as_mut()
            .expect("a Pooled holds its connection until dropped")
    }
}

impl<C: Connector> Drop for Pooled<C> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let broken = self.broken || self.pool.connector.is_broken(&conn);
            if !broken && !self.pool.permits.is_closed() {
                self.pool.idle().push(conn);
            }
        }
        // Released after the connection is back, so the next permit holder finds it.
        drop(self.permit.take());
    }
}
