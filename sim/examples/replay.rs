//! Replays one token and writes its trace: `cargo run --release -p sim --example replay --
//! POOL SCENARIO TOKEN [TRACE_STEM]`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let pool = args.get(1).map_or("poolcheck", String::as_str);
    let scenario = args.get(2).map_or("standard", String::as_str);
    let token: sim::ReplayToken = args.get(3).map_or("1", String::as_str).parse()?;
    let stem = args.get(4).map(PathBuf::from);
    let started = std::time::Instant::now();
    let replayed = sim::replay(&token, pool, scenario, stem.as_deref())?;
    let r = &replayed.report;
    println!(
        "{}: {:.3}s simulated in {:?}, {} checkouts, {} faults, {} steps, trace {:#018x} ({} records)",
        replayed.replay,
        r.simulated.as_secs_f64(),
        started.elapsed(),
        r.checkouts,
        r.faults,
        r.steps,
        r.trace_hash,
        r.trace_len
    );
    match &r.violation {
        Some(v) => println!("violation: {v}"),
        None => println!("no violation"),
    }
    for file in &replayed.trace_files {
        println!("trace: {}", file.display());
    }
    Ok(())
}
