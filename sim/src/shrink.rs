//! Shrinking: delta debugging (Zeller's ddmin) over a failing run's fault list, then its
//! clients, then the number of ops per client (a bisection), then the single ops that
//! remain, re-running deterministically each time and keeping a change only if the run
//! still violates the same invariant.

use crate::error::SimError;
use crate::oracle::{Invariant, Violation};
use crate::plan::{Plan, PlanFilter};
use crate::run::{run_guarded, RunConfig};
use crate::token::ReplayToken;

/// Encodes (client, op index) as one ddmin item: `client * OP_STRIDE + index`.
const OP_STRIDE: usize = 1 << 20;

/// The most re-runs one shrink may make.
pub const RUNS_MAX: usize = 400;

/// A shrunk failure.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The token that replays the minimal case.
    pub token: ReplayToken,
    /// Its violation.
    pub violation: Violation,
    /// Re-runs made.
    pub runs: usize,
    /// Faults, clients and ops left.
    pub faults: usize,
    /// Clients left.
    pub clients: usize,
    /// Ops left.
    pub ops: usize,
}

struct Shrinker<'a> {
    base: &'a RunConfig,
    invariant: Invariant,
    runs: usize,
    /// Re-runs allowed (the search stops reducing once they are spent).
    budget: usize,
    best: Option<Violation>,
}

impl Shrinker<'_> {
    /// Does `filter` still fail the same way?
    fn fails(&mut self, filter: &PlanFilter) -> Result<bool, SimError> {
        if self.runs >= self.budget {
            return Ok(false);
        }
        self.runs += 1;
        let config = RunConfig {
            filter: filter.clone(),
            keep_trace: false,
            all_violations: false,
            ..self.base.clone()
        };
        let report = run_guarded(&config)?;
        match report.violation {
            Some(v) if v.invariant == self.invariant => {
                self.best = Some(v);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// ddmin over `items`, with `with(subset)` building the filter to test.
    fn ddmin(
        &mut self,
        items: Vec<usize>,
        with: impl Fn(&[usize]) -> PlanFilter,
    ) -> Result<Vec<usize>, SimError> {
        if items.is_empty() || self.fails(&with(&[]))? {
            return Ok(Vec::new());
        }
        let mut current = items;
        let mut n = 2usize;
        while current.len() >= 2 {
            let chunk = current.len().div_ceil(n);
            let subsets: Vec<Vec<usize>> = current.chunks(chunk).map(<[usize]>::to_vec).collect();
            let mut reduced = false;
            for subset in &subsets {
                if self.fails(&with(subset))? {
                    current = subset.clone();
                    n = 2;
                    reduced = true;
                    break;
                }
            }
            if !reduced && subsets.len() > 2 {
                for subset in &subsets {
                    let complement: Vec<usize> = current
                        .iter()
                        .copied()
                        .filter(|x| !subset.contains(x))
                        .collect();
                    if self.fails(&with(&complement))? {
                        current = complement;
                        n = (n - 1).max(2);
                        reduced = true;
                        break;
                    }
                }
            }
            if !reduced {
                if n >= current.len() {
                    break;
                }
                n = (n * 2).min(current.len());
            }
        }
        Ok(current)
    }
}

/// Shrinks the failing run `config` (which violated `violation`) with the default
/// budget of [`RUNS_MAX`] re-runs.
///
/// # Errors
/// [`SimError`] if a re-run cannot be built.
pub fn shrink(config: &RunConfig, violation: &Violation) -> Result<Shrunk, SimError> {
    shrink_within(config, violation, RUNS_MAX)
}

/// Shrinks the failing run `config` with at most `budget` re-runs (then one more to
/// confirm the case it ends with).
///
/// # Errors
/// [`SimError`] if a re-run cannot be built.
pub fn shrink_within(
    config: &RunConfig,
    violation: &Violation,
    budget: usize,
) -> Result<Shrunk, SimError> {
    let plan = config.plan();
    let mut s = Shrinker {
        base: config,
        invariant: violation.invariant,
        runs: 0,
        budget,
        best: None,
    };
    let all_clients: Vec<usize> = plan.clients.iter().map(|(i, _)| *i).collect();
    let faults = s.ddmin(plan.faults.iter().map(|(i, _)| *i).collect(), |keep| {
        PlanFilter {
            faults: Some(keep.to_vec()),
            ..PlanFilter::default()
        }
    })?;
    let clients = s.ddmin(all_clients, |keep| PlanFilter {
        faults: Some(faults.clone()),
        clients: Some(keep.to_vec()),
        ..PlanFilter::default()
    })?;
    let ops_max = s.bisect_ops_max(&plan, &faults, &clients)?;
    // With fewer ops, fewer clients may do: one more pass over them.
    let clients = s.ddmin(clients, |keep| PlanFilter {
        faults: Some(faults.clone()),
        clients: Some(keep.to_vec()),
        ops_max,
        ops: None,
    })?;
    let base = PlanFilter {
        faults: Some(faults),
        clients: Some(clients),
        ops_max,
        ops: None,
    };
    let filter = s.single_ops(&plan, base)?;
    s.finish(config, violation, filter)
}

impl Shrinker<'_> {
    /// The fewest ops per client (a bisection) with which the kept faults and clients
    /// still fail; `None` when every op of the plan is needed.
    fn bisect_ops_max(
        &mut self,
        plan: &Plan,
        faults: &[usize],
        clients: &[usize],
    ) -> Result<Option<usize>, SimError> {
        let ops_in_plan = plan.clients.iter().map(|(_, o)| o.len()).max().unwrap_or(0);
        let (mut low, mut high) = (1usize, ops_in_plan.max(1));
        while low < high {
            let mid = (low + high) / 2;
            let filter = PlanFilter {
                faults: Some(faults.to_vec()),
                clients: Some(clients.to_vec()),
                ops_max: Some(mid),
                ops: None,
            };
            if self.fails(&filter)? {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        debug_assert!(
            low == high && high >= 1,
            "the bisection ends on one op count"
        );
        Ok((high < ops_in_plan).then_some(high))
    }

    /// ddmin over the single ops that `base` leaves: a client's op sequence matters only
    /// in the ops that remain.
    fn single_ops(&mut self, plan: &Plan, base: PlanFilter) -> Result<PlanFilter, SimError> {
        let flat: Vec<usize> = plan
            .clone()
            .filtered(&base)
            .clients
            .iter()
            .flat_map(|(c, ops)| (0..ops.len()).map(move |i| c * OP_STRIDE + i))
            .collect();
        let all_ops = flat.len();
        let as_pairs = |keep: &[usize]| -> Vec<(usize, usize)> {
            keep.iter()
                .map(|k| (k / OP_STRIDE, k % OP_STRIDE))
                .collect()
        };
        let kept_ops = self.ddmin(flat, |keep| PlanFilter {
            ops: Some(as_pairs(keep)),
            ..base.clone()
        })?;
        debug_assert!(kept_ops.len() <= all_ops, "ddmin never adds ops");
        Ok(PlanFilter {
            ops: (kept_ops.len() < all_ops).then(|| as_pairs(&kept_ops)),
            ..base
        })
    }

    /// Confirms the final case (and takes its exact violation), even if the search spent
    /// its budget; falls back to the original case if the final one does not fail.
    fn finish(
        mut self,
        config: &RunConfig,
        violation: &Violation,
        filter: PlanFilter,
    ) -> Result<Shrunk, SimError> {
        self.budget = self.runs + 1;
        let confirmed = self.fails(&filter)?;
        let (filter, violation) = match (confirmed, self.best.clone()) {
            (true, Some(v)) => (filter, v),
            _ => (config.filter.clone(), violation.clone()),
        };
        let kept = config.plan().filtered(&filter);
        Ok(Shrunk {
            token: ReplayToken {
                filter,
                ..ReplayToken::seed_in(config.seed, config.mode)
            },
            violation,
            runs: self.runs,
            faults: kept.faults.len(),
            clients: kept.clients.len(),
            ops: kept.op_count(),
        })
    }
}
