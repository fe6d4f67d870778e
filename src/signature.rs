//! A failure's signature: what it is, independent of the seed that found it, so that
//! `poolcheck merge` counts one bug found by many seeds once and keeps different bugs
//! apart.
//!
//! The signature is the violated invariant plus the *template* of the shrunk case's
//! violation message: the message with every number taken out (connection and checkout
//! ids, times, counts, pool sizes become `N`), e.g. `LIVE: N checkout(s) (first: N) wait
//! while N connection(s) are available`. The oracle words each way an invariant can break
//! in its own sentence, so the template names the broken rule — the same role a stack
//! hash plays for a crash.
//!
//! The shrunk case's *shape* — the kinds of the faults left, how many clients, the kinds
//! of their ops ([`Shape`]) — is recorded beside the signature for a person to read, but
//! is not part of it: the shrinker ends on a case that is minimal for its seed, and what
//! stays there besides the bug depends on the seed. Measured on the `smoke` scenario,
//! 200 seeds: `zoo-cancelled-head` fails 31 seeds with 29 different shapes but 2
//! templates (checkouts wait while connections are available / while one may be
//! created), `zoo-barging` 8 seeds, 8 shapes, 1 template, `zoo-dead-waiter` 27 seeds, 27
//! shapes, 3 templates (LIVE, LEAK, ACCT). A failure that was not shrunk (`--no-shrink`,
//! or a NONDET seed, which does not repeat) uses its own violation's message.

use std::collections::BTreeSet;

use serde::Serialize;
use sim::plan::{Op, OpStyle, Plan};
use sim::{PlanFilter, Scenario};

/// What a shrunk case contains, without its numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Fault kinds left, sorted, with repeats.
    pub faults: Vec<String>,
    /// Clients left.
    pub clients: usize,
    /// The kinds of the ops left, sorted, without repeats.
    pub op_kinds: BTreeSet<String>,
}

impl Shape {
    /// The shape of `seed`'s plan in `scenario` once `filter` (the shrunk case) is applied.
    pub fn of(seed: u64, scenario: &Scenario, filter: &PlanFilter) -> Shape {
        let plan = Plan::generate(seed, scenario).filtered(filter);
        let mut faults: Vec<String> = plan.faults.iter().map(|(_, f)| tag(&f.kind)).collect();
        faults.sort();
        let op_kinds = plan
            .clients
            .iter()
            .flat_map(|(_, ops)| ops.iter().map(op_kind))
            .collect();
        Shape {
            faults,
            clients: plan.clients.len(),
            op_kinds,
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let join = |items: &mut dyn Iterator<Item = &String>| {
            items.map(String::as_str).collect::<Vec<_>>().join(",")
        };
        write!(
            f,
            "faults=[{}] clients={} ops=[{}]",
            join(&mut self.faults.iter()),
            self.clients,
            join(&mut self.op_kinds.iter())
        )
    }
}

/// The signature of a failure of `invariant` (its name, `LIVE`) whose (shrunk) violation
/// says `message`.
pub fn signature(invariant: &str, message: &str) -> String {
    format!("{invariant}: {}", template(message))
}

/// `message` with every number replaced by `N` and runs of spaces closed up. A number
/// starts at a digit that does not end a word (`utf8` stays) and runs over the letters,
/// digits and inner dots that follow it (`0x1f`, `3.25ms`, `2nd`).
fn template(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        let starts_number = c.is_ascii_digit() && !prev.is_some_and(char::is_alphanumeric);
        if starts_number {
            let mut last = c;
            while let Some(&next) = chars.peek() {
                let inner_dot = next == '.' && last.is_ascii_digit();
                if next.is_alphanumeric() || (inner_dot && dot_then_digit(&chars)) {
                    last = next;
                    chars.next();
                } else {
                    break;
                }
            }
            out.push('N');
            prev = Some(last);
        } else if c.is_whitespace() {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
            prev = Some(c);
        } else {
            out.push(c);
            prev = Some(c);
        }
    }
    out.trim_end().to_string()
}

/// Is the `.` that `chars` peeks at followed by a digit?
fn dot_then_digit(chars: &std::iter::Peekable<std::str::Chars<'_>>) -> bool {
    let mut ahead = chars.clone();
    ahead.next();
    ahead.next().is_some_and(|c| c.is_ascii_digit())
}

/// An op's kind: its style, `+errored`, `+clear`.
fn op_kind(op: &Op) -> String {
    let mut kind = match op.style {
        // The style's name, as the trace writes it, without its numbers.
        OpStyle::Await => "await",
        OpStyle::CancelAfter(_) => "cancelAfter",
        OpStyle::Zombie(_) => "zombie",
        OpStyle::DropOnWake { .. } => "dropOnWake",
    }
    .to_string();
    if op.mark_errored {
        kind.push_str("+errored");
    }
    if op.clear_after_check_in.is_some() {
        kind.push_str("+clear");
    }
    kind
}

/// A serialised enum's kind: its tag (`"fault": "clearPool"`) or its one key, plus the
/// names of its boolean fields that are true (`clearPool+interrupt`); numbers dropped.
fn tag(value: &impl Serialize) -> String {
    let Ok(json) = serde_json::to_value(value) else {
        return "unknown".to_string();
    };
    match json {
        serde_json::Value::String(s) => s,
        serde_json::Value::Object(map) => {
            let (name, fields) = match map.get("fault").and_then(|t| t.as_str()) {
                Some(t) => (t.to_string(), serde_json::Value::Object(map.clone())),
                None => match map.iter().next() {
                    Some((k, v)) => (k.clone(), v.clone()),
                    None => return "unknown".to_string(),
                },
            };
            let flags: Vec<&str> = fields
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(_, v)| v.as_bool() == Some(true))
                        .map(|(k, _)| k.as_str())
                        .collect()
                })
                .unwrap_or_default();
            std::iter::once(name.as_str())
                .chain(flags)
                .collect::<Vec<_>>()
                .join("+")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sim::plan::FaultKind;

    use super::*;

    #[test]
    fn fault_kinds_keep_flags_and_drop_numbers() {
        assert_eq!(tag(&FaultKind::ResetCheckedOut), "resetCheckedOut");
        let long = FaultKind::Partition {
            length: Duration::from_millis(900),
        };
        let short = FaultKind::Partition {
            length: Duration::from_millis(3),
        };
        assert_eq!(tag(&long), "partition");
        assert_eq!(tag(&long), tag(&short));
        let clear = |interrupt| FaultKind::ClearPool {
            pause: Duration::from_millis(5),
            interrupt,
        };
        assert_eq!(tag(&clear(true)), "clearPool+interrupt");
        assert_eq!(tag(&clear(false)), "clearPool");
        let hello = |code| FaultKind::HelloError { times: 2, code };
        assert_eq!(tag(&hello(91)), tag(&hello(11600)));
    }

    #[test]
    fn op_kinds_name_style_and_flags() {
        let op = Op {
            think: Duration::ZERO,
            deadline: Duration::from_millis(10),
            hold: Duration::from_millis(1),
            commands: 1,
            mark_errored: false,
            style: OpStyle::Await,
            clear_after_check_in: None,
        };
        assert_eq!(op_kind(&op), "await");
        let other = Op {
            think: Duration::from_millis(7),
            style: OpStyle::CancelAfter(Duration::from_millis(3)),
            mark_errored: true,
            clear_after_check_in: Some(Duration::from_millis(1)),
            ..op
        };
        assert_eq!(op_kind(&other), "cancelAfter+errored+clear");
        let zombie = Op {
            style: OpStyle::Zombie(Duration::from_millis(9)),
            ..op
        };
        assert_eq!(op_kind(&zombie), "zombie");
    }

    #[test]
    fn templates_drop_numbers_and_keep_words() {
        assert_eq!(
            template("2 checkout(s) (first: 54) wait while 1 connection(s) are available"),
            "N checkout(s) (first: N) wait while N connection(s) are available"
        );
        assert_eq!(
            template("connection 49 was closed as idle after 0.670767s available (since 6.661772s), but maxIdleTime is 1.249192s."),
            "connection N was closed as idle after N available (since N), but maxIdleTime is N."
        );
        assert_eq!(
            template("seed 0x1f  and  clear #3 utf8"),
            "seed N and clear #N utf8"
        );
    }

    #[test]
    fn signatures_dedup_seeds_and_separate_rules() {
        let a = signature(
            "LIVE",
            "2 checkout(s) (first: 54) wait while 1 connection(s) are available",
        );
        let b = signature(
            "LIVE",
            "7 checkout(s) (first: 3) wait while 2 connection(s) are available",
        );
        assert_eq!(a, b);
        assert_eq!(
            a,
            "LIVE: N checkout(s) (first: N) wait while N connection(s) are available"
        );
        let c = signature(
            "LIVE",
            "2 checkout(s) (first: 5) wait while the pool may create a connection (total 1 < maxPoolSize 3, pending 0 < maxConnecting 2)",
        );
        assert_ne!(a, c);
        assert_ne!(
            a,
            signature(
                "STALE",
                "2 checkout(s) (first: 54) wait while 1 connection(s) are available"
            )
        );
    }

    #[test]
    fn shapes_print_kinds_and_clients() {
        let shape = Shape {
            faults: vec!["partition".into(), "resetCheckedOut".into()],
            clients: 2,
            op_kinds: ["await".to_string(), "cancelAfter".to_string()].into(),
        };
        assert_eq!(
            shape.to_string(),
            "faults=[partition,resetCheckedOut] clients=2 ops=[await,cancelAfter]"
        );
    }

    #[test]
    fn the_shape_of_a_plan_ignores_the_seed_numbers() {
        let scenario = Scenario::named("standard").expect("a scenario");
        // Keep no fault, client 0 only, one op: the same shape from any seed whose first
        // op is awaited without flags (the shape reads the plan, not the seed).
        let filter = PlanFilter {
            faults: Some(Vec::new()),
            clients: Some(vec![0]),
            ops_max: Some(1),
            ops: None,
        };
        for seed in 1..20 {
            let s = Shape::of(seed, &scenario, &filter);
            assert!(s.faults.is_empty(), "seed {seed}: {s:?}");
            assert_eq!(s.clients, 1, "seed {seed}");
            assert_eq!(s.op_kinds.len(), 1, "seed {seed}: {s:?}");
        }
    }
}
