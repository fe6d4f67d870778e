//! What `poolcheck drivers` prints: a line per seed as it ends, then per driver a table
//! of the checks with their violation counts, each finding with its seed, fault plan,
//! files and replay line, and the verdict line (or all of it as JSON).

use std::process::ExitCode;
use std::time::Duration;

use mock_server::judge::Check;
use serde::Serialize;
use sim::judge::JUDGED;

use super::known::Known;
use super::plan::Driver;
use super::seed::SeedOutcome;
use super::session::RunError;

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
    /// Per check — the wire checks in [`Check::ALL`] order, the event invariants in
    /// [`JUDGED`] order, then `HANG` and `CRASH` — where it is judged, its new findings
    /// and its known ones.
    pub checks: Vec<CheckCount>,
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
    /// The check: an event invariant (`LEAK`), a wire check (`WIRE-MAX`), `HANG` or
    /// `CRASH`.
    pub check: String,
    /// What was found.
    pub what: String,
    /// Whether `--known` lists it (it is reported but does not fail the verdict).
    pub known: bool,
    /// The seed's fault plan.
    pub faults: String,
    /// The seed's files.
    pub dir: String,
    /// The command that runs the seed again.
    pub replay: String,
}

/// One check's count in a [`DriverReport`].
#[derive(Debug, Serialize)]
pub struct CheckCount {
    /// The check's name.
    pub check: String,
    /// Where it is judged: `wire`, `events` or `process`.
    pub from: &'static str,
    /// Findings not listed as known.
    pub new: usize,
    /// Findings listed as known.
    pub known: usize,
}

impl DriverReport {
    /// Sums up `seeds`; `replay` gives the replay line of a driver's seed, `known` the
    /// findings already explained.
    pub fn new(
        driver: Driver,
        seeds: Vec<SeedOutcome>,
        replay: impl Fn(Driver, u64) -> String,
        known: &Known,
    ) -> DriverReport {
        let version = seeds
            .iter()
            .map(|s| s.ready.version.clone())
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        let sum = |f: &dyn Fn(&SeedOutcome) -> u64| seeds.iter().map(f).sum::<u64>();
        let findings: Vec<Finding> = seeds
            .iter()
            .flat_map(|s| findings_of(s, &replay(driver, s.seed), known))
            .collect();
        let wire = Check::ALL.iter().map(|c| (c.name(), "wire"));
        let events = JUDGED.iter().map(|i| (i.name(), "events"));
        let process = [("HANG", "process"), ("CRASH", "process")];
        let mut names: Vec<(&str, &'static str)> = wire.chain(events).chain(process).collect();
        // An invariant the oracle reports beyond those it promises still gets a row.
        for finding in &findings {
            if names.iter().all(|(name, _)| *name != finding.check) {
                names.push((finding.check.as_str(), "events"));
            }
        }
        let checks = names
            .into_iter()
            .map(|(check, from)| {
                let of = findings.iter().filter(|f| f.check == check);
                CheckCount {
                    check: check.to_string(),
                    from,
                    new: of.clone().filter(|f| !f.known).count(),
                    known: of.filter(|f| f.known).count(),
                }
            })
            .collect::<Vec<CheckCount>>();
        DriverReport {
            driver,
            version,
            ops: sum(&|s| s.load.as_ref().map_or(0, |l| l.ops)),
            failed: sum(&|s| s.load.as_ref().map_or(0, |l| l.failed)),
            cancelled: sum(&|s| s.load.as_ref().map_or(0, |l| l.cancelled)),
            events: sum(&|s| s.events.events),
            faults: sum(&|s| s.faults_injected),
            checks,
            setup_errors: seeds.iter().filter(|s| s.is_setup_error()).count(),
            findings,
            seeds,
        }
    }

    /// Findings not listed as known.
    fn violations(&self) -> usize {
        self.findings.iter().filter(|f| !f.known).count()
    }

    /// Findings listed as known.
    fn known(&self) -> usize {
        self.findings.iter().filter(|f| f.known).count()
    }

    fn wall_per_seed(&self) -> Duration {
        let total: Duration = self.seeds.iter().map(|s| s.wall).sum();
        total / u32::try_from(self.seeds.len().max(1)).unwrap_or(1)
    }
}

fn findings_of(seed: &SeedOutcome, replay: &str, known: &Known) -> Vec<Finding> {
    let mut found: Vec<(String, String)> = Vec::new();
    if let Some(wire) = &seed.wire {
        found.extend(
            wire.violations
                .iter()
                .map(|v| (v.check.name().to_string(), format!("wire: {v}"))),
        );
    }
    found.extend(
        seed.events
            .violations
            .iter()
            .map(|v| (v.invariant.name().to_string(), format!("events: {v}"))),
    );
    match &seed.error {
        Some(e @ RunError::Hang { .. }) => found.push(("HANG".into(), format!("run: {e}"))),
        Some(e @ RunError::Crash { .. }) => found.push(("CRASH".into(), format!("run: {e}"))),
        _ => {}
    }
    found
        .into_iter()
        .map(|(check, what)| Finding {
            seed: seed.seed,
            known: known.covers(seed.plan.driver, &check, &what),
            check,
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
    let known: usize = reports.iter().map(DriverReport::known).sum();
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
            let first = reports.iter().flat_map(|r| &r.findings).find(|f| !f.known);
            println!(
                "verdict: FAIL — {violations} violation(s) over {seeds} seeds; first: {}",
                first.map_or(String::new(), |f| format!(
                    "seed {:#x}: {}; replay: {}",
                    f.seed, f.what, f.replay
                ))
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
                "verdict: OK — {}: {seeds} seeds, {ops} operations, no new violation on the wire or in the events{}",
                names.join(", "),
                if known > 0 { format!(" ({known} known findings, see --known)") } else { String::new() }
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
    println!("  cancelled operations: {}", report.driver.cancellation());
    println!(
        "  {:<16} {:<8} {:>10} {:>6}",
        "check", "from", "violations", "known"
    );
    for c in &report.checks {
        println!(
            "  {:<16} {:<8} {:>10} {:>6}",
            c.check, c.from, c.new, c.known
        );
    }
    for finding in report.findings.iter().take(FINDINGS_SHOWN) {
        let tag = if finding.known { " (known)" } else { "" };
        println!("  - seed {:#x}{tag}: {}", finding.seed, finding.what);
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
