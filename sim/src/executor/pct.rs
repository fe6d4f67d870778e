//! The PCT scheduler (Probabilistic Concurrency Testing: Burckhardt, Kothari, Musuvathi
//! and Nagarakatte, ASPLOS 2010; as in shuttle's `PctScheduler` and Coyote's PCT
//! strategy).
//!
//! Every task gets a random priority when it is spawned (distinct: a clash is drawn
//! again), and the ready task with the highest priority always runs. At `d − 1` change
//! points, step indices drawn up front within the run's expected step count, the task
//! that ran last has its priority lowered below every other (each change point lower
//! than the previous one). A bug that needs `d` ordering constraints is then found with
//! probability at least `1 / (n · k^(d−1))` per run (`n` tasks, `k` steps), where uniform
//! random scheduling may need exponentially many runs: random scheduling rarely keeps one
//! task from running for long, PCT does it on purpose.
//!
//! # Fairness
//! Strict priorities starve a task that spins: a pool task that yields in a loop
//! (`yield_now` until another task flips a flag) would, at the highest priority, be
//! polled again and again while the task it waits for never runs, and the run would end
//! at the step budget as a false livelock. So a task picked [`YIELD_STREAK_MAX`] times
//! in a row while other tasks were ready is demoted below every other task, as at a
//! change point (the demotion does not use up a change point). Time itself always moves:
//! the executor only advances it once no task is ready, whatever the scheduler.

use std::collections::{BTreeMap, BTreeSet};

use crate::rng::Rng;

/// Polls in a row of one task, while others were ready, after which it is demoted (long
/// enough for PCT to keep a task that takes a few steps ahead of the others, short
/// enough that a spinning task costs little).
pub const YIELD_STREAK_MAX: u32 = 32;

/// The most change points plus one (PCT's `d`, the bug depth aimed at): drawn per run
/// in `1..=DEPTH_MAX`.
pub const DEPTH_MAX: u32 = 4;

/// Priorities of demoted tasks count down from here; random ones lie above it.
const LOW: u64 = 1 << 32;

/// The PCT scheduler's state for one run.
#[derive(Debug, Clone)]
pub struct Pct {
    rng: Rng,
    /// Task id → priority (higher runs first).
    priorities: BTreeMap<u64, u64>,
    used: BTreeSet<u64>,
    /// Step indices at which the running task is demoted, ascending, not yet reached.
    pending: Vec<u64>,
    /// The change points as drawn (for the trace).
    change_points: Vec<u64>,
    depth: u32,
    /// The next (lowest yet) demoted priority.
    next_low: u64,
    last: Option<u64>,
    streak: u32,
}

impl Pct {
    /// A PCT scheduler drawn from `rng`: depth `d` in `1..=DEPTH_MAX` and `d − 1` change
    /// points in `1..=expected_steps`.
    pub fn draw(mut rng: Rng, expected_steps: u64) -> Pct {
        let depth = rng.range(1, u64::from(DEPTH_MAX)) as u32;
        Pct::new(rng, depth, expected_steps)
    }

    /// A PCT scheduler of depth `depth` (`depth − 1` change points in
    /// `1..=expected_steps`), its priorities and change points drawn from `rng`.
    pub fn new(mut rng: Rng, depth: u32, expected_steps: u64) -> Pct {
        let mut change_points: Vec<u64> = (1..depth.max(1))
            .map(|_| rng.range(1, expected_steps.max(1)))
            .collect();
        change_points.sort_unstable();
        Pct {
            rng,
            priorities: BTreeMap::new(),
            used: BTreeSet::new(),
            pending: change_points.clone(),
            change_points,
            depth: depth.max(1),
            next_low: LOW,
            last: None,
            streak: 0,
        }
    }

    /// The depth `d`.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// The change points drawn (step indices), ascending.
    pub fn change_points(&self) -> &[u64] {
        &self.change_points
    }

    /// Task `id`'s priority, if it has one.
    pub fn priority(&self, id: u64) -> Option<u64> {
        self.priorities.get(&id).copied()
    }

    /// Task `id` was spawned: it gets a random priority, distinct from every other.
    pub fn spawned(&mut self, id: u64) {
        if self.priorities.contains_key(&id) {
            return;
        }
        let priority = loop {
            let p = self.rng.next_u64() | (1 << 63);
            if self.used.insert(p) {
                break p;
            }
        };
        self.priorities.insert(id, priority);
    }

    /// Lowers task `id` below every other task.
    fn demote(&mut self, id: u64) {
        self.next_low = self.next_low.saturating_sub(1);
        self.priorities.insert(id, self.next_low);
    }

    /// The task to poll among `ready`, with `steps` polls made so far.
    pub fn pick(&mut self, ready: &BTreeSet<u64>, steps: u64) -> Option<u64> {
        while self.pending.first().is_some_and(|&at| at <= steps) {
            self.pending.remove(0);
            if let Some(last) = self.last {
                self.demote(last);
            }
        }
        for &id in ready {
            self.spawned(id);
        }
        let mut picked = self.highest(ready)?;
        if self.last == Some(picked) && ready.len() > 1 {
            self.streak += 1;
            if self.streak >= YIELD_STREAK_MAX {
                self.demote(picked);
                picked = self.highest(ready)?;
                self.streak = 1;
            }
        } else {
            self.streak = 1;
        }
        self.last = Some(picked);
        Some(picked)
    }

    fn highest(&self, ready: &BTreeSet<u64>) -> Option<u64> {
        ready
            .iter()
            .copied()
            .max_by_key(|id| (self.priorities.get(id).copied().unwrap_or(0), *id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_and_change_points_come_from_the_seed() {
        let make = |seed| {
            let mut p = Pct::draw(Rng::new(seed), 1_000);
            for id in 0..10 {
                p.spawned(id);
            }
            p
        };
        let (a, b) = (make(5), make(5));
        assert_eq!(a.change_points(), b.change_points());
        assert_eq!(a.change_points().len() as u32, a.depth() - 1);
        assert!(a.change_points().iter().all(|&c| (1..=1_000).contains(&c)));
        let priorities = |p: &Pct| (0..10).map(|id| p.priority(id)).collect::<Vec<_>>();
        assert_eq!(priorities(&a), priorities(&b));
        let distinct: BTreeSet<_> = priorities(&a).into_iter().collect();
        assert_eq!(distinct.len(), 10, "priorities are distinct");
        let other = (1..50).map(make).any(|p| priorities(&p) != priorities(&a));
        assert!(other, "other seeds, other priorities");
    }

    #[test]
    fn the_highest_ready_task_runs_until_a_change_point_demotes_it() {
        let mut p = Pct::new(Rng::new(9), 2, 10);
        let cp = p.change_points()[0];
        let ready: BTreeSet<u64> = [0, 1, 2].into();
        for id in &ready {
            p.spawned(*id);
        }
        let top = p.highest(&ready).unwrap();
        // Alone among the ready ones, no streak: the same task runs up to the change point.
        let mut only: BTreeSet<u64> = BTreeSet::new();
        only.insert(top);
        for step in 0..cp {
            assert_eq!(p.pick(&only, step), Some(top));
        }
        // At the change point the task that ran is demoted below both others.
        let next = p.pick(&ready, cp).unwrap();
        assert_ne!(next, top);
        assert!(p.priority(top) < p.priority(next));
        assert!(p.priority(top) < p.priority(3 - top - next));
    }

    #[test]
    fn a_task_that_keeps_yielding_is_demoted() {
        let mut p = Pct::new(Rng::new(1), 1, 10);
        let ready: BTreeSet<u64> = [0, 1].into();
        let first = p.pick(&ready, 0).unwrap();
        let picks: Vec<u64> = (1..(2 * YIELD_STREAK_MAX as u64))
            .map(|s| p.pick(&ready, s).unwrap())
            .collect();
        assert!(
            picks.contains(&(1 - first)),
            "the other task runs: {picks:?}"
        );
        let run = picks.iter().take_while(|&&id| id == first).count() + 1;
        assert_eq!(run as u32, YIELD_STREAK_MAX - 1, "{picks:?}");
    }
}
