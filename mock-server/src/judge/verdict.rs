//! The judge's findings: [`Check`], [`Violation`] and [`Verdict`].
//!
//! The verdict says which invariants were broken, per client:
//! - WIRE-MAX: at most maxPoolSize pooled connections of a client open at once.
//! - WIRE-CONNECTING: at most maxConnecting pooled connections of a client in their
//!   handshake at once.
//! - WIRE-SHARED: never a second request on a connection before the first is answered
//!   (a `moreToCome` request expects no answer).
//! - WIRE-LEAK: no connection of a client open longer than the grace after the client
//!   ended its sessions.
//! - WIRE-STALE (only with `stale-grace-ms`): no connection established before a
//!   pool-clearing error and idle at that moment carries a second request more than the
//!   grace after it.
//!
//! A verdict lists the checks it ran ([`Verdict::checks`]): WIRE-STALE only when it was
//! turned on. At most [`crate::limits::JUDGE_VIOLATIONS_MAX`] violations are kept; the rest are only
//! counted (`violationsDropped`).

use std::fmt;

use bson::{doc, Document};
use serde_json::{json, Value};

use super::config::JudgeSpec;

/// One of the judge's checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Check {
    /// Too many pooled connections of one client open at once.
    Max,
    /// Too many pooled connections of one client in their handshake at once.
    Connecting,
    /// A second request on a connection before the first was answered.
    Shared,
    /// A connection left open past the grace after its client closed.
    Leak,
    /// A connection established before a pool-clearing error, idle then, used again
    /// after the grace (opt-in: `stale-grace-ms`).
    Stale,
}

impl Check {
    /// Every check, in report order (WIRE-STALE runs only when turned on: see
    /// [`Verdict::checks`]).
    pub const ALL: [Check; 5] = [
        Check::Max,
        Check::Connecting,
        Check::Shared,
        Check::Leak,
        Check::Stale,
    ];

    /// The check's name in verdicts and INVARIANTS.md (`WIRE-MAX`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Check::Max => "WIRE-MAX",
            Check::Connecting => "WIRE-CONNECTING",
            Check::Shared => "WIRE-SHARED",
            Check::Leak => "WIRE-LEAK",
            Check::Stale => "WIRE-STALE",
        }
    }
}

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which check.
    pub check: Check,
    /// The client, as `driver/appName@ip`.
    pub client: String,
    /// The connection's id (mongod's `connectionId`).
    pub connection: i64,
    /// When, in milliseconds since the judge started.
    pub at_millis: u64,
    /// What was seen.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} client {} connection {} at {} ms: {}",
            self.check.name(),
            self.client,
            self.connection,
            self.at_millis,
            self.detail
        )
    }
}

/// A snapshot of the judge's findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The bounds checked.
    pub spec: JudgeSpec,
    /// Distinct clients seen.
    pub clients: usize,
    /// Connections seen (accepted while the judge was on).
    pub connections: u64,
    /// Connections that became pooled.
    pub pooled: u64,
    /// Connections not tracked because a table was full.
    pub untracked: u64,
    /// The violations kept, oldest first.
    pub violations: Vec<Violation>,
    /// Violations found but not kept (past the limit).
    pub dropped: u64,
}

impl Verdict {
    /// No violation found (kept or dropped).
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty() && self.dropped == 0
    }

    /// The number of violations found.
    pub fn violation_count(&self) -> u64 {
        self.violations.len() as u64 + self.dropped
    }

    /// The checks this verdict ran, in report order: every check but WIRE-STALE, and
    /// WIRE-STALE too when the spec turned it on (`stale-grace-ms`).
    pub fn checks(&self) -> Vec<Check> {
        Check::ALL
            .into_iter()
            .filter(|&c| c != Check::Stale || self.spec.stale_grace.is_some())
            .collect()
    }

    fn check_names(&self) -> Vec<&'static str> {
        self.checks().into_iter().map(Check::name).collect()
    }

    fn count_of(&self, check: Check) -> usize {
        self.violations.iter().filter(|v| v.check == check).count()
    }

    /// The `{poolcheckVerdict: 1}` reply.
    pub fn to_document(&self) -> Document {
        let to_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let violations: Vec<Document> = self
            .violations
            .iter()
            .map(|v| {
                doc! {
                    "check": v.check.name(),
                    "client": v.client.as_str(),
                    "connection": v.connection,
                    "atMillis": to_i64(v.at_millis),
                    "detail": v.detail.as_str(),
                }
            })
            .collect();
        let mut counts = Document::new();
        for check in self.checks() {
            counts.insert(check.name(), to_i64(self.count_of(check) as u64));
        }
        doc! {
            "ok": 1.0,
            "checks": self.check_names(),
            "spec": self.spec.to_string(),
            "clients": to_i64(self.clients as u64),
            "connections": to_i64(self.connections),
            "pooledConnections": to_i64(self.pooled),
            "untrackedConnections": to_i64(self.untracked),
            "violationCounts": counts,
            "violationsDropped": to_i64(self.dropped),
            "violations": violations,
        }
    }

    /// The verdict as JSON (what `--verdict-file` writes).
    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.is_ok(),
            "checks": self.check_names(),
            "spec": self.spec.to_string(),
            "clients": self.clients,
            "connections": self.connections,
            "pooledConnections": self.pooled,
            "untrackedConnections": self.untracked,
            "violationsDropped": self.dropped,
            "violations": self.violations.iter().map(|v| json!({
                "check": v.check.name(),
                "client": v.client,
                "connection": v.connection,
                "atMillis": v.at_millis,
                "detail": v.detail,
            })).collect::<Vec<_>>(),
        })
    }
}

impl fmt::Display for Verdict {
    /// `judge: OK — ...` or `judge: FAIL — N violations`, then one line per violation.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return write!(
                f,
                "judge: OK — {} clients, {} connections ({} pooled), no violation of {}",
                self.clients,
                self.connections,
                self.pooled,
                self.check_names().join(", ")
            );
        }
        write!(f, "judge: FAIL — {} violations", self.violation_count())?;
        for violation in &self.violations {
            write!(f, "\n  {violation}")?;
        }
        if self.dropped > 0 {
            write!(f, "\n  ... and {} more not kept", self.dropped)?;
        }
        Ok(())
    }
}
