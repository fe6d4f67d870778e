//! FIFO: checkouts are *granted* in arrival order: a checkout that began later is never
//! served while an earlier one still waits for the pool.
//!
//! When checkout `k` succeeds, every earlier checkout that waits (outstanding, not a
//! zombie, not establishing or validating a connection of its own) is *overtaken* —
//! except that when `k` is served by a connection it established itself, its grant was
//! the permit to establish, so only the earlier checkouts that already waited when that
//! establishment started (and wait still) are overtaken: one that was validating or
//! establishing then, and queued again only later, was not passed over. The same holds
//! when `k` is served by a connection it was handed and validated
//! (`ConnectionValidating` on its task): the hand-over was its grant, and an earlier
//! checkout that was itself validating then, and queued again when its own connection
//! failed the check, was not passed over. The
//! verdict on "`k` overtook `j`" waits for the next stable point, because `j` may have
//! been granted something in the same instant (a creation permit, say) and simply not
//! have run yet. At the stable point it is a violation if `j` still waits, except in one
//! case:
//!
//! **Completion order of background establishments.** A pool that establishes
//! connections on background tasks
//! ([`crate::pool_under_test::Capabilities::background_establishment`]) starts one
//! connect per waiter and hands each new connection to a waiter when it is ready. Connects
//! finish in any order, so the connect started for `k` may finish first while the one
//! started for `j` is still in flight. Serving `k` with it is then not a grant out of
//! order: no connection was available for `j` that `k` took (the connection did not exist
//! until it was made), and `j` still has a connect in flight for it. So `k` overtaking `j`
//! is excused when, and only when, all of these hold:
//!
//! 1. the pool declares background establishment;
//! 2. the connection `k` got was *fresh*: it became available by its own
//!    `ConnectionReady` and was never checked out or checked in since (a connection given
//!    back by a user is available to the head of the queue first: taking it is barging);
//! 3. at the stable point, the connections still establishing are at least as many as the
//!    earlier checkouts (those that began before `k`) that still wait — every waiter ahead
//!    of `k` is still covered by a connect in flight.
//!
//! A pool whose checkouts drive their own connects needs no excuse: a checkout that
//! establishes is not waiting, so it is never overtaken. Cancelled checkouts leave the
//! queue and are not judged.

use super::model::Model;
use super::CheckoutId;
use super::OracleConfig;

/// One "`winner` overtook `overtaken`" to judge at the next stable point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overtake {
    pub(crate) winner: CheckoutId,
    pub(crate) overtaken: CheckoutId,
    /// The winner's connection was fresh from its establishment (rule 2).
    pub(crate) fresh: bool,
    /// Judged at the first stable point from then on
    /// ([`OracleConfig::arrival_slack`] after the winner was served).
    pub(crate) due: std::time::Duration,
}

/// The earlier checkouts that `k`'s success with a connection (`fresh` or not) overtakes
/// (judged later). `granted_ahead`: if `k` was served by a connection it established
/// itself, the earlier checkouts that waited when it was granted that establishment.
pub(crate) fn overtaken(
    model: &Model,
    k: CheckoutId,
    fresh: bool,
    granted_ahead: Option<&[CheckoutId]>,
    due: std::time::Duration,
) -> Vec<Overtake> {
    model
        .waiting()
        .take_while(|j| *j < k)
        .filter(|j| granted_ahead.is_none_or(|ahead| ahead.contains(j)))
        .map(|j| Overtake {
            winner: k,
            overtaken: j,
            fresh,
            due,
        })
        .collect()
}

/// The verdict on `o` at a stable point.
pub(crate) fn judge(model: &Model, o: Overtake, config: &OracleConfig) -> Option<String> {
    let (k, j) = (o.winner, o.overtaken);
    if !model.is_waiting(j) {
        return None;
    }
    let earlier = model.checkout(j)?;
    let later = model.checkout(k)?;
    if later.started < earlier.started.saturating_add(config.arrival_slack) {
        return None;
    }
    if config.background_establishment && o.fresh {
        let ahead = model.waiting().take_while(|w| *w < k).count() as u64;
        if u64::from(model.pending) >= ahead {
            return None;
        }
    }
    Some(format!(
        "checkout {j} (began {:.6}s) still waits although checkout {k} (began {:.6}s) was served",
        earlier.started.as_secs_f64(),
        later.started.as_secs_f64()
    ))
}
