//! `zoo-swallowed-error` — B18 (bb8: connect errors go to an error sink and the caller
//! only ever sees a timeout; martin moved to deadpool over it).
//!
//! When the establishment a checkout drives fails, the error is dropped and the checkout
//! queues again, to time out (or to succeed much later) instead of failing with the
//! cause. Caught by ERR.

use std::sync::Arc;

use super::skeleton::{self, AfterConnectError, Variant};
use crate::pool_under_test::{PoolParams, PoolUnderTest};

pub(crate) struct SwallowedError;

impl Variant for SwallowedError {
    fn on_connect_error(&self) -> AfterConnectError {
        // BUG: the cause is lost; the checkout just waits again.
        AfterConnectError::Requeue
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, SwallowedError)
}
