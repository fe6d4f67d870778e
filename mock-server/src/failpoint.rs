//! The `failCommand` fail point, with mongod's semantics (`src/mongo/db/commands.cpp`,
//! `src/mongo/util/fail_point.cpp`).
//!
//! There is one configuration at a time; `configureFailPoint` replaces it. A command is
//! first filtered (`failCommands`/`failAllCommands`, `appName`, `namespace`; never
//! `configureFailPoint`), and only a matching command consumes `times` or `skip` and counts
//! as "entered". The error path fires only if `closeConnection`, `blockConnection` or
//! `errorCode` is set; its effects run in mongod's order: labels, block, close, error. The
//! `writeConcernError` path is separate: it is evaluated after a write command ran, and
//! attaches the given document instead of waiting for write concern.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::{doc, Bson, Document};
use tokio::time::Instant;

use crate::error::{code, CommandError};
use crate::limits::BLOCK_TIME_MAX;
use crate::query::compare::{as_f64, truthy};

/// The fail point names the mock knows.
pub const FAIL_COMMAND: &str = "failCommand";

/// The message mongod puts in a failCommand error.
pub const FAIL_MESSAGE: &str = "Failing command via 'failCommand' failpoint";

/// How often the fail point fires.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Never.
    Off,
    /// On every matching command.
    AlwaysOn,
    /// On the next `n` matching commands, then off.
    Times(i64),
    /// Not on the next `n` matching commands, then on every one.
    Skip(i64),
    /// On each matching command with probability `p`.
    Probability(f64),
}

/// What a command is, for the fail point's filters.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// The command's canonical name and its aliases (`hello`, `isMaster`, `ismaster`).
    pub names: &'a [&'a str],
    /// The handshake `client.application.name` of the connection.
    pub app_name: Option<&'a str>,
    /// The command's namespace (`db.coll`, or `db` for commands without a collection).
    pub namespace: &'a str,
    /// Whether the command accepts a write concern (insert, update, delete, ...).
    pub is_write: bool,
}

/// What the error path asks the connection to do, in this order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorPath {
    /// `errorLabels` overriding the server's own labels for this command.
    pub labels: Option<Vec<String>>,
    /// Sleep this long first (`blockConnection`). An `Err` is the `InvalidOptions` mongod
    /// raises for a missing or negative `blockTimeMS`.
    pub block: Option<Result<Duration, CommandError>>,
    /// End the connection without a reply.
    pub close: bool,
    /// Fail the command with this error (without running it).
    pub error: Option<CommandError>,
}

/// When a `blockConnection` block ends: a shared end that blocks joining it may push back
/// (see [`crate::ServerOptions::block_release_window`]). Cheap to clone; clones share it.
#[derive(Clone, Debug)]
pub struct BlockRelease {
    /// The end the first block of the group asked for; later blocks join while their end
    /// is less than the window after it.
    first: Instant,
    /// The latest end asked for by any block of the group.
    until: Arc<Mutex<Instant>>,
}

impl BlockRelease {
    pub(crate) fn new(end: Instant) -> BlockRelease {
        BlockRelease {
            first: end,
            until: Arc::new(Mutex::new(end)),
        }
    }

    /// Whether a block ending at `end` joins this release.
    pub(crate) fn joins(&self, end: Instant, window: Duration) -> bool {
        end >= self.first && end - self.first < window
    }

    /// Pushes the release back to `end` if that is later.
    pub(crate) fn extend_to(&self, end: Instant) {
        let mut until = crate::locks::lock(&self.until);
        *until = (*until).max(end);
    }

    /// When the group is released, as far as is known now (joining blocks may push it
    /// back, by less than the window in all).
    pub fn until(&self) -> Instant {
        *crate::locks::lock(&self.until)
    }
}

/// The fail point's state.
#[derive(Debug)]
pub struct FailCommand {
    mode: Mode,
    data: Document,
    /// How many times the fail point fired since the server started (mongod's
    /// `timesEntered`, returned by `configureFailPoint` as `count`).
    times_entered: i64,
    rng: u64,
}

impl FailCommand {
    /// An inactive fail point. `seed` drives `activationProbability`, so runs repeat.
    pub fn new(seed: u64) -> FailCommand {
        FailCommand {
            mode: Mode::Off,
            data: Document::new(),
            times_entered: 0,
            rng: seed | 1,
        }
    }

    /// Runs `configureFailPoint`: parses and installs the new mode and data. Returns the
    /// reply `{count, ok: 1}`.
    ///
    /// # Errors
    /// `FailPointSetFailed` (266) for another fail point name, `BadValue` / `TypeMismatch`
    /// for a malformed mode or data.
    pub fn configure(&mut self, command: &Document) -> Result<Document, CommandError> {
        let name = command
            .get_str("configureFailPoint")
            .map_err(|_| CommandError::type_mismatch("configureFailPoint must be a string"))?;
        if name != FAIL_COMMAND {
            return Err(CommandError::new(
                code::FAIL_POINT_SET_FAILED,
                format!("{name} not found"),
            ));
        }
        let mode = parse_mode(command.get("mode"))?;
        let data = match command.get("data") {
            None => Document::new(),
            Some(Bson::Document(d)) => d.clone(),
            Some(_) => {
                return Err(CommandError::type_mismatch(
                    "the 'data' option must be an object",
                ))
            }
        };
        let count = self.times_entered;
        self.mode = if mode == Mode::Times(0) {
            Mode::Off
        } else {
            mode
        };
        self.data = if self.mode == Mode::Off {
            Document::new()
        } else {
            data
        };
        Ok(doc! {"count": count, "ok": 1.0})
    }

    /// Turns the fail point off (a restart).
    pub fn reset(&mut self) {
        self.mode = Mode::Off;
        self.data = Document::new();
    }

    /// The current mode.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// How many times the fail point fired.
    pub fn times_entered(&self) -> i64 {
        self.times_entered
    }

    /// Evaluates the error path for a command about to run. `None` if it does not fire.
    pub fn evaluate_error_path(&mut self, target: &Target<'_>) -> Option<ErrorPath> {
        if self.mode == Mode::Off || !self.matches(target) {
            return None;
        }
        let close = bool_field(&self.data, "closeConnection");
        let block = bool_field(&self.data, "blockConnection");
        let error_code = self.data.get("errorCode").and_then(whole_number);
        if !(close || block || error_code.is_some()) || !self.hit() {
            return None;
        }
        let labels = labels_field(&self.data);
        let mut path = ErrorPath {
            labels: labels.clone(),
            close,
            ..ErrorPath::default()
        };
        if block {
            path.block = Some(block_time(&self.data));
        }
        if let Some(code) = error_code {
            let code = i32::try_from(code).unwrap_or(code::INTERNAL_ERROR);
            let mut err = CommandError::new(code, FAIL_MESSAGE);
            if let Some(Bson::Document(extra)) = self.data.get("errorExtraInfo") {
                err.extra = Some(Box::new(extra.clone()));
            }
            err.labels = labels.unwrap_or_default();
            path.error = Some(err);
        }
        Some(path)
    }

    /// Evaluates the `writeConcernError` path after a write command ran. Returns the
    /// document to attach as `writeConcernError` and the labels to attach, if it fires.
    pub fn evaluate_write_concern(
        &mut self,
        target: &Target<'_>,
    ) -> Option<(Document, Vec<String>)> {
        if self.mode == Mode::Off || !target.is_write || !self.matches(target) {
            return None;
        }
        let Some(Bson::Document(wce)) = self.data.get("writeConcernError") else {
            return None;
        };
        let wce = wce.clone();
        if !self.hit() {
            return None;
        }
        Some((wce, labels_field(&self.data).unwrap_or_default()))
    }

    /// mongod's `shouldActivateFailCommandFailPoint`.
    fn matches(&self, target: &Target<'_>) -> bool {
        if target.names.contains(&"configureFailPoint") {
            return false;
        }
        if self.data.contains_key("threadName") {
            // The mock has no named server threads; like mongod with a name that does not
            // match, the fail point then never fires.
            return false;
        }
        if let Some(app) = self.data.get("appName") {
            let wanted = app.as_str().unwrap_or_default();
            if target.app_name.unwrap_or_default() != wanted {
                return false;
            }
        }
        if let Some(ns) = self.data.get("namespace") {
            if ns.as_str().unwrap_or_default() != target.namespace {
                return false;
            }
        }
        if self.data.contains_key("failAllCommands") {
            return true;
        }
        let Ok(list) = self.data.get_array("failCommands") else {
            return false;
        };
        list.iter()
            .any(|name| matches!(name, Bson::String(n) if target.names.contains(&n.as_str())))
    }

    /// Decides by mode whether a matching command makes the fail point fire, and counts it.
    fn hit(&mut self) -> bool {
        let fired = match &mut self.mode {
            Mode::Off => false,
            Mode::AlwaysOn => true,
            Mode::Times(n) => {
                *n -= 1;
                if *n <= 0 {
                    self.mode = Mode::Off;
                }
                true
            }
            Mode::Skip(n) if *n > 0 => {
                *n -= 1;
                false
            }
            Mode::Skip(_) => true,
            Mode::Probability(p) => {
                let p = *p;
                self.next_unit() < p
            }
        };
        if fired {
            self.times_entered += 1;
        }
        fired
    }

    /// A uniform draw in [0, 1) from xorshift64*.
    fn next_unit(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn parse_mode(mode: Option<&Bson>) -> Result<Mode, CommandError> {
    match mode {
        None => Err(CommandError::bad_value(
            "When setting a failpoint, you must supply a 'mode'",
        )),
        Some(Bson::String(s)) if s == "off" => Ok(Mode::Off),
        Some(Bson::String(s)) if s == "alwaysOn" => Ok(Mode::AlwaysOn),
        Some(Bson::String(s)) => Err(CommandError::bad_value(format!("unknown mode: {s}"))),
        Some(Bson::Document(d)) => {
            let (key, value) = d
                .iter()
                .next()
                .ok_or_else(|| CommandError::bad_value("the 'mode' object is empty"))?;
            match key.as_str() {
                "times" | "skip" => {
                    let n = whole_number(value).filter(|n| *n >= 0).ok_or_else(|| {
                        CommandError::bad_value(format!(
                            "'{key}' option to 'mode' must be a non-negative integer"
                        ))
                    })?;
                    Ok(if key == "times" {
                        Mode::Times(n)
                    } else {
                        Mode::Skip(n)
                    })
                }
                "activationProbability" => match as_f64(value) {
                    Some(p) if (0.0..=1.0).contains(&p) => Ok(Mode::Probability(p)),
                    _ => Err(CommandError::bad_value(
                        "activationProbability must be a number between 0 and 1",
                    )),
                },
                other => Err(CommandError::bad_value(format!(
                    "unknown mode specifier: {other}"
                ))),
            }
        }
        Some(_) => Err(CommandError::type_mismatch(
            "'mode' must be a string or an object",
        )),
    }
}

fn whole_number(v: &Bson) -> Option<i64> {
    let f = as_f64(v)?;
    (f.fract() == 0.0).then_some(f as i64)
}

fn bool_field(data: &Document, key: &str) -> bool {
    data.get(key).is_some_and(truthy)
}

fn labels_field(data: &Document) -> Option<Vec<String>> {
    let labels = data.get_array("errorLabels").ok()?;
    Some(
        labels
            .iter()
            .filter_map(|l| l.as_str().map(str::to_string))
            .collect(),
    )
}

fn block_time(data: &Document) -> Result<Duration, CommandError> {
    let ms = data
        .get("blockTimeMS")
        .and_then(whole_number)
        .ok_or_else(|| {
            CommandError::invalid_options(
                "must specify 'blockTimeMS' when 'blockConnection' is true",
            )
        })?;
    let ms = u64::try_from(ms)
        .map_err(|_| CommandError::invalid_options("'blockTimeMS' must be non-negative"))?;
    Ok(Duration::from_millis(ms).min(BLOCK_TIME_MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIND: Target<'static> = Target {
        names: &["find"],
        app_name: None,
        namespace: "db.c",
        is_write: false,
    };
    const INSERT: Target<'static> = Target {
        names: &["insert"],
        app_name: Some("app"),
        namespace: "db.c",
        is_write: true,
    };

    fn configured(mode: Bson, data: Document) -> FailCommand {
        let mut fp = FailCommand::new(7);
        fp.configure(&doc! {"configureFailPoint": "failCommand", "mode": mode, "data": data})
            .expect("valid");
        fp
    }

    #[test]
    fn times_counts_only_matching_commands() {
        let mut fp = configured(
            Bson::Document(doc! {"times": 2}),
            doc! {"failCommands": ["insert"], "errorCode": 91},
        );
        assert!(fp.evaluate_error_path(&FIND).is_none());
        let first = fp.evaluate_error_path(&INSERT).expect("fires");
        assert_eq!(
            first.error.map(|e| (e.code, e.code_name)),
            Some((91, "ShutdownInProgress".into()))
        );
        assert!(fp.evaluate_error_path(&INSERT).is_some());
        assert!(fp.evaluate_error_path(&INSERT).is_none());
        assert_eq!(fp.mode(), &Mode::Off);
        assert_eq!(fp.times_entered(), 2);
    }

    #[test]
    fn skip_passes_then_fires_forever() {
        let mut fp = configured(
            Bson::Document(doc! {"skip": 1}),
            doc! {"failCommands": ["insert"], "closeConnection": true},
        );
        assert!(fp.evaluate_error_path(&INSERT).is_none());
        for _ in 0..3 {
            assert!(fp.evaluate_error_path(&INSERT).is_some_and(|p| p.close));
        }
    }

    #[test]
    fn filters_and_exemptions() {
        let mut fp = configured(
            Bson::String("alwaysOn".into()),
            doc! {"failAllCommands": true, "appName": "other", "errorCode": 1},
        );
        assert!(fp.evaluate_error_path(&INSERT).is_none());
        let mut fp = configured(
            Bson::String("alwaysOn".into()),
            doc! {"failCommands": ["configureFailPoint"], "errorCode": 1},
        );
        let cfp = Target {
            names: &["configureFailPoint"],
            ..FIND
        };
        assert!(fp.evaluate_error_path(&cfp).is_none());
        // Without close, block or errorCode the error path never fires.
        let mut fp = configured(
            Bson::String("alwaysOn".into()),
            doc! {"failCommands": ["insert"], "writeConcernError": {"code": 64}},
        );
        assert!(fp.evaluate_error_path(&INSERT).is_none());
        assert_eq!(
            fp.evaluate_write_concern(&INSERT).map(|(d, _)| d),
            Some(doc! {"code": 64})
        );
    }

    #[test]
    fn block_needs_block_time() {
        let mut fp = configured(
            Bson::String("alwaysOn".into()),
            doc! {"failCommands": ["find"], "blockConnection": true},
        );
        let path = fp.evaluate_error_path(&FIND).expect("fires");
        assert_eq!(path.block.map(|b| b.map_err(|e| e.code)), Some(Err(72)));
        let mut fp = configured(
            Bson::String("alwaysOn".into()),
            doc! {"failCommands": ["find"], "blockConnection": true, "blockTimeMS": 50},
        );
        assert_eq!(
            fp.evaluate_error_path(&FIND).and_then(|p| p.block),
            Some(Ok(Duration::from_millis(50)))
        );
    }

    #[test]
    fn off_and_unknown_names() {
        let mut fp = configured(
            Bson::String("off".into()),
            doc! {"failCommands": ["find"], "errorCode": 1},
        );
        assert!(fp.evaluate_error_path(&FIND).is_none());
        let err = fp
            .configure(&doc! {"configureFailPoint": "nope", "mode": "alwaysOn"})
            .expect_err("unknown");
        assert_eq!(err.code, 266);
        let reply = fp
            .configure(&doc! {"configureFailPoint": "failCommand", "mode": "off"})
            .expect("valid");
        assert_eq!(reply.get_i64("count"), Ok(0));
    }
}
