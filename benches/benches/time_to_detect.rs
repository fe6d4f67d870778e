//! `time_to_detect`: how long the harness takes to catch each bug of the zoo, per
//! simulator mode, against a real-time stress test of the same pool.
//!
//! For every zoo member that is a bug (every one but the clean controls `zoo-baseline`
//! and `zoo-validating`), in the member's own scenario:
//!
//! - **per simulator mode** ([`MODES`]): seeds 1, 2, 3, … are swept one at a time
//!   ([`sweep_seed`]: `sim::sweep` with one seed, one job, no shrinking) until the first
//!   failing seed, or [`Settings::seeds_max`]. Figures: the seeds run and the sweeps' own
//!   wall time (the determinism re-run each one-seed sweep makes is not counted);
//! - **stress** (`sim::stress`): the same pool code on a multi-thread Tokio runtime and
//!   wall-clock time, plans from seed 1 played concurrently, judged by the same oracle
//!   with a 100 ms tolerance, until the first violation or the cap (60 s).
//!
//! The table (Markdown, on stdout) gives both and the speed-up of the default mode over
//! the stress test (stress wall time / mode wall time; "> N×" when the stress test found
//! nothing within its cap). The clean controls, poolcheck's own pool and `zoo-baseline`,
//! are stressed for the cap too: a violation there would be a false alarm of the real-time
//! judging, and the table says so.
//!
//! Flags (after `--`): `--test` (CI's smoke: one member, a few seconds), `--cap SECONDS`
//! (the stress cap, default 60), `--seeds-max N` (default 100000), `--members a,b` (a
//! subset), `--no-controls`.
//!
//! Run: `cargo bench -p benches --bench time_to_detect` (release build, ~5–20 min on a
//! 2-core machine: most of it is the stress test's cap on members it does not find).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use sim::pools::PoolEntry;
use sim::stress::{StressConfig, StressReport};
use sim::{Invariant, Mode, Scenario, SweepConfig};

/// The modes measured, the default first (the speed-up column compares it).
const MODES: [Mode; 4] = [Mode::Random, Mode::Swarm, Mode::Pct, Mode::Portfolio];

/// The clean controls: zoo members with no bug.
const CONTROLS: [&str; 2] = ["zoo-baseline", "zoo-validating"];

/// What to measure.
struct Settings {
    /// The stress test's cap.
    cap: Duration,
    /// The most seeds a mode runs before giving up.
    seeds_max: u64,
    /// The members to measure (`None`: every bug).
    members: Option<Vec<String>>,
    /// Stress the clean controls too.
    controls: bool,
    /// CI's quick run.
    test: bool,
}

impl Settings {
    /// From the command line; unknown flags (`--bench`, which cargo passes) are ignored.
    fn from_args() -> Result<Settings, String> {
        let mut settings = Settings {
            cap: Duration::from_secs(60),
            seeds_max: 100_000,
            members: None,
            controls: true,
            test: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
            match arg.as_str() {
                "--test" => settings.test = true,
                "--cap" => {
                    let secs: f64 = value("--cap")?
                        .parse()
                        .map_err(|_| "--cap takes seconds".to_string())?;
                    if !secs.is_finite() || secs <= 0.0 {
                        return Err("--cap must be above 0".into());
                    }
                    settings.cap = Duration::from_secs_f64(secs);
                }
                "--seeds-max" => {
                    settings.seeds_max = value("--seeds-max")?
                        .parse()
                        .map_err(|_| "--seeds-max takes a count".to_string())?;
                }
                "--members" => {
                    settings.members =
                        Some(value("--members")?.split(',').map(str::to_string).collect());
                }
                "--no-controls" => settings.controls = false,
                _ => {}
            }
        }
        if settings.test {
            // A few seconds: one member both find at once, one short clean control.
            settings.cap = settings.cap.min(Duration::from_secs(3));
            settings.seeds_max = settings.seeds_max.min(50);
            settings
                .members
                .get_or_insert_with(|| vec!["zoo-pool-full".to_string()]);
        }
        Ok(settings)
    }
}

/// Seeds to the first failure in one mode.
struct ModeResult {
    /// Seeds run (the failing one included).
    seeds: u64,
    /// The sweeps' wall time.
    wall: Duration,
    /// The first failure's invariant (`None`: not found within `seeds_max`).
    found: Option<Invariant>,
}

/// One row of the table.
struct Row {
    member: &'static str,
    modes: Vec<ModeResult>,
    stress: StressReport,
}

/// Sweeps seed `seed` of `entry`'s scenario in `mode` (one seed, one job, no shrink):
/// the one place a mode decides how a seed runs.
fn sweep_seed(mode: Mode, entry: &PoolEntry, seed: u64) -> Result<sim::SweepReport, String> {
    let config = SweepConfig {
        seeds: 1,
        first_seed: seed,
        pool: entry.name.to_string(),
        scenario: entry.scenario.to_string(),
        jobs: 1,
        shard: (0, 1),
        shrink: false,
        trace_dir: None,
        mode,
        stop_at_first: false,
    };
    sim::sweep(&config, |_| {}).map_err(|e| format!("{}: {e}", entry.name))
}

/// Seeds 1, 2, … of `entry` in `mode` until the first failure or `seeds_max`.
fn seeds_to_failure(mode: Mode, entry: &PoolEntry, seeds_max: u64) -> Result<ModeResult, String> {
    let mut wall = Duration::ZERO;
    for seed in 1..=seeds_max {
        let report = sweep_seed(mode, entry, seed)?;
        wall += report.wall;
        if let Some(failure) = &report.first_failure {
            return Ok(ModeResult {
                seeds: seed,
                wall,
                found: Some(failure.violation.invariant),
            });
        }
    }
    Ok(ModeResult {
        seeds: seeds_max,
        wall,
        found: None,
    })
}

/// The stress test of `entry` for `cap`.
fn stress(entry: &PoolEntry, cap: Duration) -> Result<StressReport, String> {
    let scenario = Scenario::named(entry.scenario).map_err(|e| e.to_string())?;
    let config = StressConfig::new(entry, scenario).cap(cap);
    sim::stress::stress(&config).map_err(|e| format!("{}: {e}", entry.name))
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e3)
}

fn secs(d: Duration) -> String {
    format!("{:.0} s", d.as_secs_f64())
}

/// The Markdown table.
fn table(rows: &[Row], cap: Duration) -> String {
    let mut md = String::from("| member | invariant found |");
    for mode in MODES {
        md.push_str(&format!(" {0}: seeds | {0}: wall ms |", mode));
    }
    md.push_str(" stress: wall ms | speed-up |\n|---|---|");
    for _ in MODES {
        md.push_str("---:|---:|");
    }
    md.push_str("---:|---:|\n");
    for row in rows {
        let sim_found = row.modes.iter().find_map(|m| m.found);
        let stress_found = row.stress.violation.as_ref().map(|v| v.invariant);
        let invariant = match (sim_found, stress_found) {
            (Some(a), Some(b)) if a != b => format!("{} (stress: {})", a.name(), b.name()),
            (Some(a), _) => a.name().to_string(),
            (None, Some(b)) => format!("— (stress: {})", b.name()),
            (None, None) => "—".to_string(),
        };
        md.push_str(&format!("| `{}` | {invariant} |", row.member));
        for m in &row.modes {
            match m.found {
                Some(_) => md.push_str(&format!(" {} | {} |", m.seeds, ms(m.wall))),
                None => md.push_str(&format!(" none in {} | {} |", m.seeds, ms(m.wall))),
            }
        }
        let stress = match stress_found {
            Some(_) => ms(row.stress.elapsed),
            None => format!("not found in {}", secs(row.stress.elapsed)),
        };
        let default = &row.modes[0];
        let ratio = row.stress.elapsed.as_secs_f64() / default.wall.as_secs_f64().max(1e-6);
        let speedup = match (default.found, stress_found) {
            (Some(_), Some(_)) => format!("{ratio:.1}×"),
            (Some(_), None) => format!("> {ratio:.0}×"),
            (None, _) => "—".to_string(),
        };
        md.push_str(&format!(" {stress} | {speedup} |\n"));
    }
    md.push_str(&format!(
        "\nStress cap {}; simulator wall time is the one-seed sweeps' own (one thread).\n",
        secs(cap)
    ));
    md
}

fn run(settings: &Settings) -> Result<String, String> {
    let members: Vec<&'static PoolEntry> = sim::zoo::MEMBERS
        .iter()
        .filter(|m| !CONTROLS.contains(&m.name))
        .filter(|m| {
            settings
                .members
                .as_ref()
                .is_none_or(|only| only.iter().any(|n| n == m.name))
        })
        .collect();
    let mut rows = Vec::new();
    for entry in members {
        let mut modes = Vec::new();
        for mode in MODES {
            modes.push(seeds_to_failure(mode, entry, settings.seeds_max)?);
        }
        let stress = stress(entry, settings.cap)?;
        eprintln!("time_to_detect: {stress}");
        rows.push(Row {
            member: entry.name,
            modes,
            stress,
        });
    }
    let mut md = table(&rows, settings.cap);
    if settings.controls {
        md.push_str(
            "\nClean controls under the stress test (a violation here is a false alarm):\n\n",
        );
        let baseline = sim::pools::find("zoo-baseline").map_err(|e| e.to_string())?;
        for entry in [&sim::pools::REFERENCE, baseline] {
            let cap = if settings.test {
                Duration::from_secs(1)
            } else {
                settings.cap
            };
            let report = stress(entry, cap)?;
            eprintln!("time_to_detect: {report}");
            md.push_str(&format!("- {report}\n"));
        }
    }
    Ok(md)
}

fn main() -> ExitCode {
    let settings = match Settings::from_args() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("time_to_detect: {message}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let load_before = benches::runtime::load_average();
    match run(&settings) {
        Ok(md) => {
            println!("{md}");
            benches::extra::record(
                "time_to_detect",
                "table",
                serde_json::json!({
                    "markdown": md,
                    "cap_s": settings.cap.as_secs_f64(),
                    "seeds_max": settings.seeds_max,
                    "took_s": started.elapsed().as_secs_f64(),
                    "load_before": load_before,
                    "load_after": benches::runtime::load_average(),
                    "unix_time": benches::extra::unix_time(),
                }),
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("time_to_detect: {message}");
            ExitCode::FAILURE
        }
    }
}
