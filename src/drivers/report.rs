//! What `poolcheck drivers` prints: a line per seed as it ends, then per driver a table
//! of the checks with their violation counts, each finding with its seed, fault plan,
//! files and replay line, and the verdict line (or all of it as JSON).

use std::process::ExitCode;
use std::time::Duration;

use mock_server::judge::Check;
use serde::Serialize;
use sim::judge::JUDGED;

use super::plan::Driver;
use super::seed::SeedOutcome;

/// The most findings printed per driver (the JSON has them all).
const FINDINGS_SHOWN: usize = 5;

/// One driver's seeds, summed up.
#[derive(Debug, Serialize)]
pub struct DriverReport {
    /// The driver.
    pub driver: Driver,
    /// Its version (as the first seed that started reported it).
    pub version: String,
    /// Operations over all seeds.
    pub ops: u64,
    /// Of which failed (faults make some fail) and cancelled.
    pub failed: u64,
    /// Cancelled by the workload.
    pub cancelled: u64,
    /// CMAP events judged over all seeds.
    pub events: u64,
    /// Faults injected over all seeds.
    pub faults: u64,
    /// Violations per wire check, in [`Check::ALL`] order.
    pub wire: Vec<(String, usize)>,
    /// Violations per event invariant, in [`JUDGED`] order.
    pub oracle: Vec<(String, usize)>,
    /// Seeds whose driver hung or crashed.
    pub hangs_or_crashes: usize,
    /// Seeds that could not be set up.
    pub setup_errors: usize,
    /// Each finding.
    pub findings: Vec<Finding>,
    /// Every seed's outcome.
    pub seeds: Vec<SeedOutcome>,
}

/// One thing found, with what reproduces it.
#[derive(Debug, Serialize)]
pub struct Finding {
    /// The seed.
    pub seed: u64,
    /// What was found: a violation of either judge, a hang, a crash or a setup error.
    pub what: String,
    /// The seed's fault plan.
    pub faults: String,
    /// The seed's files.
    pub dir: String,
    /// The command that runs the seed again.
    pub replay: String,
}

impl DriverReport {
    /// Sums up `seeds`; `replay` gives the replay line of a driver's seed.
    pub fn new(
        driver: Driver,
        seeds: Vec<SeedOutcome>,
        replay: impl Fn(Driver, u64) -> String,
    ) -> DriverReport {
        let version = seeds
            .iter()
            .map(|s| s.ready.version.clone())
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        let sum = |f: &dyn Fn(&SeedOutcome) -> u64| seeds.iter().map(f).sum::<u64>();
        let wire = Check::ALL
            .iter()
            .map(|&check| {
                let n = seeds
                    .iter()
                    .filter_map(|s| s.wire.as_ref())
                    .flat_map(|w| &w.violations)
                    .filter(|v| v.check == check)
                    .count();
                (check.name().to_string(), n)
            })
            .collect();
        let oracle = JUDGED
            .iter()
            .map(|&invariant| {
                let n = seeds
                    .iter()
                    .flat_map(|s| &s.events.violations)
                    .filter(|v| v.invariant == invariant)
                    .count();
                (invariant.name().to_string(), n)
            })
            .collect();
        let findings = seeds
            .iter()
            .flat_map(|s| findings_of(s, &replay(driver, s.seed)))
            .collect();
        DriverReport {
            driver,
            version,
            ops: sum(&|s| s.load.as_ref().map_or(0, |l| l.ops)),
            failed: sum(&|s| s.load.as_ref().map_or(0, |l| l.failed)),
            cancelled: sum(&|s| s.load.as_ref().map_or(0, |l| l.cancelled)),
            events: sum(&|s| s.events.events),
            faults: sum(&|s| s.faults_injected),
            wire,
            oracle,
            hangs_or_crashes: seeds
                .iter()
                .filter(|s| s.error.as_ref().is_some_and(|e| !e.is_setup()))
                .count(),
            setup_errors: seeds.iter().filter(|s| s.is_setup_error()).count(),
            findings,
            seeds,
        }
    }

    fn violations(&self) -> usize {
        let judged: usize = self.wire.iter().chain(&self.oracle).map(|(_, n)| n).sum();
        judged + self.hangs_or_crashes
    }

    fn wall_per_seed(&self) -> Duration {
        let total: Duration = self.seeds.iter().map(|s| s.wall).sum();
        total / u32::try_from(self.seeds.len().max(1)).unwrap_or(1)
    }
}

fn findings_of(seed: &SeedOutcome, replay: &str) -> Vec<Finding> {
    let mut what: Vec<String> = Vec::new();
    if let Some(wire) = &seed.wire {
        what.extend(wire.violations.iter().map(|v| format!("wire: {v}")));
    }
    what.extend(
        seed.events
            .violations
            .iter()
            .map(|v| format!("events: {v}")),
    );
    what.extend(seed.error.iter().map(|e| format!("run: {e}")));
    what.extend(seed.event_problems.iter().map(|p| format!("event log: {p}")));
    what.into_iter()
        .map(|what| Finding {
            seed: seed.seed,
            what,
            faults: seed.plan.faults.to_string(),
            dir: seed.dir.display().to_string(),
            replay: replay.to_string(),
        })
        .collect()
}

/// The line printed as a seed ends.
pub fn print_seed(seed: &SeedOutcome) {
    let load = seed.load.clone().unwrap_or_default();
    let wire = seed.wire.as_ref().map_or(0, |w| w.violations.len());
    let verdict = match (&seed.error, seed.findings()) {
        (Some(e), _) if e.is_setup() => format!("SETUP ERROR: {e}"),
        (_, 0) if seed.is_setup_error() => "EVENT LOG UNREADABLE".to_string(),
        (_, 0) => "ok".to_string(),
        (_, n) => format!("FAIL ({n})"),
    };
    println!(
        "{:<14} seed {:<6} workers {} pool {}/{}  ops {:>4} (failed {:>3}, cancelled {:>3})  faults {:>2}  events {:>5}  wire {:>2}  oracle {:>2}  {:>5.1} s  {verdict}",
        seed.plan.driver.name(),
        format!("{:#x}", seed.seed),
        seed.plan.workload.workers.len(),
        seed.plan.workload.max_pool_size,
        seed.plan.workload.max_connecting,
        load.ops,
        load.failed,
        load.cancelled,
        seed.faults_injected,
        seed.events.events,
        wire,
        seed.events.violations.len(),
        seed.wall.as_secs_f64(),
    );
}

/// Prints the summary and the verdict; the exit status.
pub fn finish(reports: &[DriverReport], json: bool) -> ExitCode {
    let violations: usize = reports.iter().map(DriverReport::violations).sum();
    let setup: usize = reports.iter().map(|r| r.setup_errors).sum();
    if json {
        let verdict = match (violations, setup) {
            (0, 0) => "OK",
            (0, _) => "ERROR",
            _ => "FAIL",
        };
        let value = serde_json::json!({ "verdict": verdict, "drivers": reports });
        match serde_json::to_string_pretty(&value) {
            Ok(text) => println!("{text}"),
            Err(err) => eprintln!("poolcheck drivers: cannot print JSON: {err}"),
        }
    } else {
        for report in reports {
            print_report(report);
        }
    }
    let seeds: usize = reports.iter().map(|r| r.seeds.len()).sum();
    let ops: u64 = reports.iter().map(|r| r.ops).sum();
    if violations > 0 {
        if !json {
            let first = reports.iter().flat_map(|r| &r.findings).next();
            println!(
                "verdict: FAIL — {violations} violation(s) over {seeds} seeds; first: {}",
                first.map_or(String::new(), |f| format!("seed {:#x}: {}; replay: {}", f.seed, f.what, f.replay))
            );
        }
        ExitCode::FAILURE
    } else if setup > 0 {
        if !json {
            println!("verdict: ERROR — {setup} seed(s) could not run the driver (see above)");
        }
        ExitCode::from(2)
    } else {
        if !json {
            let names: Vec<String> = reports
                .iter()
                .map(|r| format!("{} {}", r.driver, r.version))
                .collect();
            println!(
                "verdict: OK — {}: {seeds} seeds, {ops} operations, no violation on the wire or in the events",
                names.join(", ")
            );
        }
        ExitCode::SUCCESS
    }
}

fn print_report(report: &DriverReport) {
    println!();
    println!(
        "{} {} — {} seeds, {} operations ({} failed, {} cancelled), {} faults, {} CMAP events, {:.1} s per seed",
        report.driver,
        report.version,
        report.seeds.len(),
        report.ops,
        report.failed,
        report.cancelled,
        report.faults,
        report.events,
        report.wall_per_seed().as_secs_f64(),
    );
    println!("  {:<16} {:<8} violations", "check", "from");
    for (name, n) in &report.wire {
        println!("  {name:<16} {:<8} {n}", "wire");
    }
    for (name, n) in &report.oracle {
        println!("  {name:<16} {:<8} {n}", "events");
    }
    println!("  {:<16} {:<8} {}", "HANG/CRASH", "process", report.hangs_or_crashes);
    for finding in report.findings.iter().take(FINDINGS_SHOWN) {
        println!("  - seed {:#x}: {}", finding.seed, finding.what);
        println!("    faults: {}", finding.faults);
        println!("    files:  {}", finding.dir);
        println!("    replay: {}", finding.replay);
    }
    if report.findings.len() > FINDINGS_SHOWN {
        println!(
            "  … and {} more (--json lists them all)",
            report.findings.len() - FINDINGS_SHOWN
        );
    }
}
