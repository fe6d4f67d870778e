//! FIFO: a checkout that began later is never served while an earlier one still waits.
//!
//! When checkout `k` succeeds, every earlier outstanding checkout that waits (not a
//! zombie, not establishing its own connection) is *overtaken*. The verdict waits for
//! the next stable point, because the earlier one may have been granted something in the
//! same instant (a creation permit, say) and simply not have run yet; if at the stable
//! point it still waits, the grant order broke arrival order. Cancelled checkouts leave
//! the queue and are not judged.

use super::model::Model;
use crate::trace::CheckoutId;

/// The earlier checkouts that `k`'s success overtakes (judged later).
pub(crate) fn overtaken(model: &Model, k: CheckoutId) -> Vec<CheckoutId> {
    model.waiting().take_while(|j| *j < k).collect()
}

/// The verdict on "`k` overtook `j`" at a stable point.
pub(crate) fn judge(model: &Model, k: CheckoutId, j: CheckoutId) -> Option<String> {
    if !model.outstanding.contains(&j) {
        return None;
    }
    let earlier = model.checkout(j)?;
    let later = model.checkout(k)?;
    if earlier.zombie || earlier.establishing > 0 {
        return None;
    }
    Some(format!(
        "checkout {j} (began {:.6}s) still waits although checkout {k} (began {:.6}s) was served",
        earlier.started.as_secs_f64(),
        later.started.as_secs_f64()
    ))
}
