//! `zoo-baseline`: the skeleton with no bug: the control that shows the zoo's other
//! members fail for their bug and nothing else.

use std::sync::Arc;

use super::skeleton::{self, Baseline};
use crate::pool_under_test::{PoolParams, PoolUnderTest};

/// Builds it.
pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, Baseline)
}
