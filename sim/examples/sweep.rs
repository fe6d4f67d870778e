//! Sweeps seeds and prints the summary: `cargo run --release -p sim --example sweep --
//! POOL SCENARIO SEEDS JOBS`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let config = sim::SweepConfig {
        pool: arg(1).unwrap_or("poolcheck").to_string(),
        scenario: arg(2).unwrap_or("standard").to_string(),
        seeds: arg(3).map_or(Ok(1000), str::parse)?,
        jobs: arg(4).map_or(Ok(2), str::parse)?,
        trace_dir: Some(std::env::temp_dir().join("poolcheck-sim")),
        ..sim::SweepConfig::default()
    };
    let report = sim::sweep(&config, |_| {})?;
    println!(
        "{} seeds of {}/{} in {:.2?}: {:.0}s simulated ({:.0} simulated s per wall s), \
         {} checkouts, {} faults, {} failing seeds {:?}",
        report.seeds_run,
        report.pool,
        report.scenario,
        report.wall,
        report.simulated.as_secs_f64(),
        report.speed(),
        report.checkouts,
        report.faults,
        report.failed_seeds,
        report.violations
    );
    if !report.failing.is_empty() {
        let seeds: Vec<String> = report
            .failing
            .iter()
            .map(|(seed, invariant)| format!("{seed:#x} {invariant}"))
            .collect();
        println!("failing seeds: {}", seeds.join(", "));
    }
    if let Some(f) = &report.first_failure {
        println!("first failure: {}\n  {}", f.violation, f.replay);
        if let Some(s) = &f.shrunk {
            println!(
                "  shrunk to {} fault(s), {} client(s), {} op(s) in {} runs: {}\n  {}",
                s.faults, s.clients, s.ops, s.runs, s.violation, s.replay
            );
        }
        for file in &f.trace_files {
            println!("  trace: {}", file.display());
        }
    }
    Ok(())
}
