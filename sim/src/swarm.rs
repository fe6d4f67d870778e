//! Swarm testing (Groce, Zhang, Eide, Chen and Regehr, ISSTA 2012): instead of giving
//! every run a bit of every feature, each run gets a random *subset* of them, so rare
//! combinations (say, only resets and clears, with zombies and no cancellations) get
//! whole runs to themselves, and features that suppress a bug (a fault that clears the
//! pool before the bug can show) are left out of some runs entirely.
//!
//! The features are the fault kinds ([`FaultClass`]) and the op styles ([`OpFeature`]).
//! Each is enabled with probability ½, from the seed's own `fork("swarm")` stream, so a
//! run without swarm draws exactly what it drew before swarm testing existed. An op style
//! the scenario does not have (zombies in `standard`) is never enabled; an enabled one
//! gets twice the scenario's share. At least one fault kind is enabled when the scenario
//! has faults. The subset is part of the [`crate::plan::Plan`] (and of the trace's first
//! harness record), and a replay token that names the mode reproduces it.

use serde::Serialize;

use crate::plan::Scenario;
use crate::rng::Rng;

/// A kind of fault, as swarm testing enables or disables it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultClass {
    /// Refused connects.
    RefuseConnects,
    /// Slow connects.
    DelayConnects,
    /// Unanswered connects.
    BlackHoleConnects,
    /// A checked-out connection reset.
    ResetCheckedOut,
    /// A network partition.
    Partition,
    /// A latency spike.
    LatencySpike,
    /// A server restart (and the clear it causes).
    ServerRestart,
    /// Handshakes failing (`failCommand` on `hello`).
    HelloError,
    /// Handshakes stalling (`blockConnection` on `hello`).
    HelloBlock,
    /// A server that answers nothing.
    ServerBlackHole,
    /// A clear the harness asks for.
    ClearPool,
}

impl FaultClass {
    /// Every fault kind.
    pub const ALL: [FaultClass; 11] = [
        FaultClass::RefuseConnects,
        FaultClass::DelayConnects,
        FaultClass::BlackHoleConnects,
        FaultClass::ResetCheckedOut,
        FaultClass::Partition,
        FaultClass::LatencySpike,
        FaultClass::ServerRestart,
        FaultClass::HelloError,
        FaultClass::HelloBlock,
        FaultClass::ServerBlackHole,
        FaultClass::ClearPool,
    ];
}

/// An op style (or op feature), as swarm testing enables or disables it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpFeature {
    /// Ops with no think time (tight loops).
    ZeroThink,
    /// Checkouts cancelled after a while.
    Cancel,
    /// Zombie checkouts (polled once, then abandoned).
    Zombie,
    /// Checkouts dropped right after a wake-up.
    DropOnWake,
    /// A clear right after a check-in.
    ClearAfterCheckIn,
    /// Connections marked errored at check-in.
    MarkErrored,
}

impl OpFeature {
    /// Every op feature.
    pub const ALL: [OpFeature; 6] = [
        OpFeature::ZeroThink,
        OpFeature::Cancel,
        OpFeature::Zombie,
        OpFeature::DropOnWake,
        OpFeature::ClearAfterCheckIn,
        OpFeature::MarkErrored,
    ];

    /// The scenario's share of this feature (percent; per mille for clears after a
    /// check-in), and its cap.
    fn share(self, s: &mut Scenario) -> (&mut u64, u64) {
        match self {
            OpFeature::ZeroThink => (&mut s.zero_think_percent, 100),
            OpFeature::Cancel => (&mut s.cancel_percent, 100),
            OpFeature::Zombie => (&mut s.zombie_percent, 100),
            OpFeature::DropOnWake => (&mut s.drop_on_wake_percent, 100),
            OpFeature::ClearAfterCheckIn => (&mut s.clear_after_check_in_per_mille, 1000),
            OpFeature::MarkErrored => (&mut s.errored_percent, 100),
        }
    }
}

/// The features one swarm run enables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Swarm {
    /// The fault kinds enabled (empty when the scenario has no faults).
    pub faults: Vec<FaultClass>,
    /// The op styles enabled (only ones the scenario has).
    pub styles: Vec<OpFeature>,
}

impl Swarm {
    /// The subset of `seed` (its `root` stream) in `scenario`, from `root.fork("swarm")`.
    pub fn draw(root: &Rng, scenario: &Scenario) -> Swarm {
        let mut rng = root.fork("swarm");
        let mut faults: Vec<FaultClass> = FaultClass::ALL
            .into_iter()
            .filter(|_| rng.percent(50))
            .collect();
        if faults.is_empty() {
            faults.extend(rng.pick(&FaultClass::ALL).copied());
        }
        if scenario.faults.1 == 0 {
            faults.clear();
        }
        let mut probe = scenario.clone();
        let styles = OpFeature::ALL
            .into_iter()
            .filter(|feature| rng.percent(50) && *feature.share(&mut probe).0 > 0)
            .collect();
        Swarm { faults, styles }
    }

    /// `scenario` with only this subset's op styles: a disabled one at zero, an enabled
    /// one at twice the scenario's share (capped).
    pub fn applied_to(&self, scenario: &Scenario) -> Scenario {
        let mut s = scenario.clone();
        for feature in OpFeature::ALL {
            let on = self.styles.contains(&feature);
            let (share, cap) = feature.share(&mut s);
            *share = if on { (*share * 2).min(cap) } else { 0 };
        }
        s
    }
}

impl std::fmt::Display for Swarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |json: String| json.replace(['[', ']', '"'], "");
        write!(
            f,
            "swarm: faults [{}], op styles [{}]",
            names(serde_json::to_string(&self.faults).unwrap_or_default()),
            names(serde_json::to_string(&self.styles).unwrap_or_default())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{FaultKind, OpStyle, Plan};

    fn class(kind: &FaultKind) -> FaultClass {
        match kind {
            FaultKind::RefuseConnects { .. } => FaultClass::RefuseConnects,
            FaultKind::DelayConnects { .. } => FaultClass::DelayConnects,
            FaultKind::BlackHoleConnects { .. } => FaultClass::BlackHoleConnects,
            FaultKind::ResetCheckedOut => FaultClass::ResetCheckedOut,
            FaultKind::Partition { .. } => FaultClass::Partition,
            FaultKind::LatencySpike { .. } => FaultClass::LatencySpike,
            FaultKind::ServerRestart { .. } => FaultClass::ServerRestart,
            FaultKind::HelloError { .. } => FaultClass::HelloError,
            FaultKind::HelloBlock { .. } => FaultClass::HelloBlock,
            FaultKind::ServerBlackHole { .. } => FaultClass::ServerBlackHole,
            FaultKind::ClearPool { .. } => FaultClass::ClearPool,
        }
    }

    #[test]
    fn swarm_plans_keep_to_their_subset_and_repeat() {
        let s = Scenario::named("zombie").unwrap();
        let mut subsets = std::collections::BTreeSet::new();
        for seed in 1..=40 {
            let plan = Plan::generate_with(seed, &s, true);
            assert_eq!(plan, Plan::generate_with(seed, &s, true), "seed {seed}");
            let swarm = plan.swarm.clone().expect("a swarm plan records its subset");
            assert!(!swarm.faults.is_empty());
            for (_, fault) in &plan.faults {
                assert!(swarm.faults.contains(&class(&fault.kind)), "seed {seed}");
            }
            for (_, ops) in &plan.clients {
                for op in ops {
                    let feature = match op.style {
                        OpStyle::Await => None,
                        OpStyle::CancelAfter(_) => Some(OpFeature::Cancel),
                        OpStyle::Zombie(_) => Some(OpFeature::Zombie),
                        OpStyle::DropOnWake { .. } => Some(OpFeature::DropOnWake),
                    };
                    if let Some(feature) = feature {
                        assert!(swarm.styles.contains(&feature), "seed {seed}");
                    }
                    if op.mark_errored {
                        assert!(swarm.styles.contains(&OpFeature::MarkErrored));
                    }
                }
            }
            subsets.insert(format!("{swarm}"));
        }
        assert!(subsets.len() > 20, "subsets vary: {}", subsets.len());
    }

    #[test]
    fn without_swarm_the_plan_is_unchanged() {
        let s = Scenario::named("standard").unwrap();
        for seed in 1..=20 {
            let plain = Plan::generate(seed, &s);
            assert!(plain.swarm.is_none());
            let swarm = Plan::generate_with(seed, &s, true);
            // Options and client count come from streams swarm does not touch.
            assert_eq!(plain.options, swarm.options);
            assert_eq!(plain.clients.len(), swarm.clients.len());
            assert_eq!(plain.faults.len(), swarm.faults.len());
        }
        // Calm has no faults: none are enabled.
        let calm = Scenario::named("calm").unwrap();
        let plan = Plan::generate_with(3, &calm, true);
        assert_eq!(plan.swarm.map(|s| s.faults.len()), Some(0));
    }
}
