// temporary probe
use std::time::Duration;
#[test]
fn probe() {
    let names: Vec<String> = std::env::var("PROBE")
        .unwrap_or("zoo-pool-full".into())
        .split(',')
        .map(String::from)
        .collect();
    let secs: u64 = std::env::var("PROBE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    for name in names {
        let entry = if name == "reference" {
            &sim::pools::REFERENCE
        } else {
            sim::pools::find(&name).unwrap()
        };
        let scenario = sim::Scenario::named(entry.scenario).unwrap();
        let config = sim::stress::StressConfig::new(entry, scenario).cap(Duration::from_secs(secs));
        let report = sim::stress::stress(&config).unwrap();
        println!("{report}");
    }
}
