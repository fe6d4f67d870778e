//! The violations of a run, deduplicated.
//!
//! A run may go on after its first violation (the recorder's *keep going* mode,
//! [`crate::recorder::Recorder::set_keep_going`]), so one persistent condition must not
//! fill the report. Two layers keep it to one line per problem:
//!
//! - *episodes*: the checkers of conditions that persist (LIVE starvation, ACCT
//!   disagreement, MAX by the manager's view, TIME and ERR obligations per checkout, LEAK
//!   per lingering connection) report once per episode, and a new episode starts only
//!   after the condition stopped holding (see `Episodes`);
//! - the *ledger*: a violation whose invariant and message equal an earlier one's is
//!   counted as suppressed, not kept. At most [`VIOLATIONS_MAX`] are kept.

use std::collections::BTreeSet;

use super::CheckoutId;
use super::{Invariant, Violation};

/// The most violations one run keeps.
pub const VIOLATIONS_MAX: usize = 256;

/// The violations kept, and how many were dropped as repeats or beyond the cap.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    kept: Vec<Violation>,
    seen: BTreeSet<(Invariant, String)>,
    suppressed: u64,
}

impl Ledger {
    /// Keeps `v` unless it repeats an earlier one or the ledger is full.
    pub(crate) fn push(&mut self, v: Violation) {
        if self.kept.len() >= VIOLATIONS_MAX || !self.seen.insert((v.invariant, v.message.clone()))
        {
            self.suppressed = self.suppressed.saturating_add(1);
            return;
        }
        self.kept.push(v);
    }

    pub(crate) fn all(&self) -> &[Violation] {
        &self.kept
    }

    pub(crate) fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

/// Which persistent conditions were already reported in their current episode.
#[derive(Debug, Default)]
pub(crate) struct Episodes {
    /// LIVE starvation reported since it began.
    pub(crate) starving: bool,
    /// ACCT disagreement reported since it began.
    pub(crate) disagreeing: bool,
    /// MAX by the manager's view reported since it began.
    pub(crate) over_limit: bool,
    /// Checkouts already reported overdue (TIME).
    pub(crate) late: BTreeSet<CheckoutId>,
    /// Checkouts already reported for an undelivered establishment error (ERR).
    pub(crate) error_undelivered: BTreeSet<CheckoutId>,
    /// (sweep time in µs, checkout) pairs already reported unswept (ERR).
    pub(crate) unswept: BTreeSet<(u128, CheckoutId)>,
    /// Connections already reported held after their close (LEAK).
    pub(crate) lingering: BTreeSet<u64>,
}
