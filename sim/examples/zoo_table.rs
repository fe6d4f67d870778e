//! Prints the zoo table: for each pool, the first seed (of 1..=N) that fails, the
//! invariant, and how many of the N seeds fail. `cargo run --release -p sim --example
//! zoo_table -- [N]`.

use sim::run::{run, RunConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args().nth(1).map_or(Ok(100), |s| s.parse())?;
    println!("| pool | scenario | first failing seed | invariant | failing seeds of {n} |");
    println!("|---|---|---|---|---|");
    for pool in sim::pools::all() {
        let scenario = sim::Scenario::named(pool.scenario)?;
        let mut first = None;
        let mut failing = 0;
        let mut by: std::collections::BTreeMap<sim::Invariant, u32> = Default::default();
        for seed in 1..=n {
            let report = run(&RunConfig::new(pool, scenario.clone(), seed))?;
            if let Some(v) = report.violation {
                failing += 1;
                *by.entry(v.invariant).or_default() += 1;
                first.get_or_insert((seed, v.invariant));
            }
        }
        let (seed, invariant) = first.map_or(("-".to_string(), "-".to_string()), |(s, i)| {
            (s.to_string(), i.to_string())
        });
        let by: Vec<String> = by.iter().map(|(i, n)| format!("{i} {n}")).collect();
        println!(
            "| {} | {} | {seed} | {invariant} | {failing} ({}) |",
            pool.name,
            pool.scenario,
            by.join(", ")
        );
    }
    Ok(())
}
