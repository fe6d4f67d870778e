//! Known findings (`--known FILE`): violations already explained, which are still
//! reported but do not fail the verdict — as a sanitizer's suppressions file does.
//!
//! One entry per line, `#` starts a comment:
//!
//! ```text
//! # PyMongo publishes ConnectionCheckedIn after another thread may have taken the connection.
//! pymongo LEAK checked out twice at once
//! ```
//!
//! An entry is a driver (`--driver`'s spelling), a check (an event invariant such as
//! `LEAK`, a wire check such as `WIRE-MAX`, or `HANG` / `CRASH` for the process) and the
//! rest of the line, which the violation's message must contain. A check is never
//! changed by an entry: the violation is found, counted and printed as known.

use std::path::Path;

use clap::ValueEnum;

use super::plan::Driver;

/// The entries of a known-findings file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Known {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    driver: Driver,
    check: String,
    contains: String,
}

/// Why a known-findings file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KnownError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not `driver CHECK text`.
    #[error("{path}:{line}: {why} (expected `driver CHECK text the message contains`)")]
    Line {
        /// The file.
        path: String,
        /// The line number.
        line: usize,
        /// What is wrong.
        why: String,
    },
}

impl Known {
    /// Reads a known-findings file.
    pub fn load(path: &Path) -> Result<Known, KnownError> {
        let text = std::fs::read_to_string(path).map_err(|source| KnownError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Known::parse(&text).map_err(|(line, why)| KnownError::Line {
            path: path.display().to_string(),
            line,
            why,
        })
    }

    /// Reads the entries of `text`; on error, the line number and what is wrong.
    pub fn parse(text: &str) -> Result<Known, (usize, String)> {
        let mut entries = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.splitn(3, char::is_whitespace);
            let (Some(driver), Some(check), Some(contains)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err((n + 1, "too few fields".into()));
            };
            let driver = Driver::from_str(driver, false)
                .map_err(|_| (n + 1, format!("unknown driver '{driver}'")))?;
            entries.push(Entry {
                driver,
                check: check.to_string(),
                contains: contains.trim().to_string(),
            });
        }
        Ok(Known { entries })
    }

    /// Whether a violation of `check` by `driver` with `message` is known.
    pub fn covers(&self, driver: Driver, check: &str, message: &str) -> bool {
        self.entries
            .iter()
            .any(|e| e.driver == driver && e.check == check && message.contains(&e.contains))
    }

    /// How many entries there are.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_driver_check_and_text() {
        let known = Known::parse(
            "# comment\n\npymongo LEAK checked out twice at once # why\nnode WIRE-MAX open at once\n",
        )
        .expect("parses");
        assert_eq!(known.len(), 2);
        let message = "connection 1 checked out twice at once";
        assert!(known.covers(Driver::Pymongo, "LEAK", message));
        assert!(!known.covers(Driver::PymongoAsync, "LEAK", message));
        assert!(!known.covers(Driver::Pymongo, "ACCT", message));
        assert!(!known.covers(Driver::Pymongo, "LEAK", "closed while checked out"));
        assert!(known.covers(
            Driver::Node,
            "WIRE-MAX",
            "6 pooled connections open at once"
        ));
    }

    #[test]
    fn bad_lines_name_their_line() {
        assert_eq!(
            Known::parse("pymongo LEAK").map(|k| k.len()),
            Err((1, "too few fields".into()))
        );
        let err = Known::parse("\njdbc LEAK text").expect_err("unknown driver");
        assert_eq!(err.0, 2);
        assert!(err.1.contains("jdbc"));
    }
}
