//! What the pool-core benchmarks share: a connection that costs nothing and a pool filled
//! with it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use pool_core::{ConnectionId, Manager, Pool, PoolBuilder};

/// Connections that cost nothing to make.
pub struct Noop;

impl Manager for Noop {
    type Connection = ();
    type Error = Infallible;

    async fn connect(&self, _id: ConnectionId) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Polls `fut` once by hand with a no-op waker (a checkout on the fast path completes
/// there, so the figure is the pool's own cost), finishing it through `rt.block_on` if it
/// was `Pending` (not expected on these paths; counted in `pending` to stay correct).
#[inline(always)]
pub fn poll_once_or_block<F: Future>(
    rt: &tokio::runtime::Runtime,
    fut: F,
    pending: &mut u64,
) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => {
            *pending += 1;
            rt.block_on(fut)
        }
    }
}

/// The pool size every benchmark uses.
pub const POOL_SIZE: u32 = 10;

/// A ready pool of [`POOL_SIZE`] with no maintenance task, every connection established
/// and available, its builder finished by `configure`.
pub fn filled(
    rt: &tokio::runtime::Runtime,
    configure: impl FnOnce(PoolBuilder<Noop>) -> PoolBuilder<Noop>,
) -> Pool<Noop> {
    let pool = rt.block_on(async {
        let builder = Pool::builder(Noop)
            .max_pool_size(POOL_SIZE)
            .maintenance_interval(None);
        let pool = configure(builder).ready().build().expect("valid options");
        let mut held = Vec::new();
        for _ in 0..POOL_SIZE {
            held.push(pool.check_out().await.expect("a connection"));
        }
        drop(held);
        pool
    });
    let status = pool.status();
    assert_eq!(
        (status.total, status.available),
        (POOL_SIZE, POOL_SIZE),
        "pool not filled: {status:?}"
    );
    pool
}
