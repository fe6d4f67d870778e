//! Waiting for a condition instead of sleeping: poll it until it holds or a deadline
//! passes, and say what was last seen when it never held.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often [`eventually`] re-checks its condition.
const POLL_EVERY: Duration = Duration::from_millis(5);

/// Polls `check` until it returns `Ok`, for at most `limit`. `check` returns `Err(what it
/// saw)` while the condition does not hold yet.
///
/// # Errors
/// The last `Err` of `check`, with how long it was waited for.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + limit;
    loop {
        match check().await {
            Ok(value) => return Ok(value),
            Err(seen) if Instant::now() >= deadline => {
                return Err(format!("still not so after {limit:?}: {seen}"));
            }
            Err(_) => tokio::time::sleep(POLL_EVERY).await,
        }
    }
}
