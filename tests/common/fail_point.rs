//! An in-process emulation of mongod's `failCommand` fail point, as far as the CMAP
//! integration tests use it: on the connection handshake (`hello` / `isMaster`), filtered
//! by the client's `appName`.
//!
//! Supported: `mode` `alwaysOn`, `{times: n}` and `off`; `data.failCommands`, `appName`,
//! `blockConnection` + `blockTimeMS`, `errorCode` and `closeConnection`. Anything else is
//! refused by [`FailPoint::configure`], so a test that needs more fails loudly instead of
//! running against a half-emulated server.
//!
//! A mock [`Manager`](pool_core::Manager) calls [`FailPoint::run_command`] at the start of
//! `connect`, with the command its handshake sends and the pool's `appName`.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

/// What a command that the fail point hit fails with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The server answered with an error code (`errorCode`).
    Server {
        /// The command that failed.
        command: String,
        /// The code, e.g. 91 (ShutdownInProgress).
        code: i64,
    },
    /// The server closed the connection instead of answering (`closeConnection`).
    ConnectionClosed {
        /// The command that was sent.
        command: String,
    },
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::Server { command, code } => {
                write!(
                    f,
                    "command {command} failed with error code {code} (failCommand)"
                )
            }
            CommandError::ConnectionClosed { command } => {
                write!(
                    f,
                    "connection closed by the server during {command} (failCommand)"
                )
            }
        }
    }
}

impl std::error::Error for CommandError {}

/// How often the fail point may still trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    AlwaysOn,
    Times(u64),
}

/// An active `failCommand` configuration.
#[derive(Debug, Clone)]
struct Config {
    mode: Mode,
    commands: Vec<String>,
    app_name: Option<String>,
    block: Option<Duration>,
    error_code: Option<i64>,
    close_connection: bool,
}

/// What one triggered command does.
#[derive(Debug, Clone)]
struct Action {
    block_until: Option<Instant>,
    error_code: Option<i64>,
    close_connection: bool,
}

#[derive(Debug, Default)]
struct Inner {
    config: Option<Config>,
    /// The deadline of the most recent blocked command (see [`FailPoint::block_deadline`]).
    last_block: Option<Instant>,
}

/// The emulated `failCommand` fail point; see the module docs.
#[derive(Debug, Default)]
pub struct FailPoint {
    inner: Mutex<Inner>,
}

/// Blocked commands whose deadlines fall this close together complete together.
///
/// A real server that receives two handshakes a few microseconds apart answers them a few
/// microseconds apart. Tokio's timer has a 1 ms granularity, so two sleeps started a few
/// microseconds apart can land in different ticks and end a whole millisecond apart, which
/// gives the pool a window the real server does not (for example in
/// `pool-checkout-minPoolSize-connection-maxConnecting`, where both populated connections
/// must be ready before a waiter gives up on them). Sharing one deadline keeps the
/// emulation as close as a real server's answer times.
const BLOCK_COALESCE: Duration = Duration::from_millis(1);

impl FailPoint {
    /// A fail point that is off.
    pub fn new() -> Self {
        FailPoint::default()
    }

    /// Applies a `configureFailPoint` command, e.g.
    /// `{"configureFailPoint": "failCommand", "mode": {"times": 2}, "data": {...}}`.
    ///
    /// # Errors
    /// A description of the first unsupported or malformed part.
    pub fn configure(&self, command: &Value) -> Result<(), String> {
        let config = parse(command)?;
        let mut inner = self.inner.lock().expect("fail point lock");
        inner.config = config;
        Ok(())
    }

    /// Switches the fail point off (`mode: "off"`).
    pub fn disable(&self) {
        self.inner.lock().expect("fail point lock").config = None;
    }

    /// True while a configuration is active.
    pub fn is_active(&self) -> bool {
        self.inner.lock().expect("fail point lock").config.is_some()
    }

    /// Runs `command` from a client named `app_name` through the fail point: waits if it
    /// blocks, then fails if it is configured to. Counts one use of a `{times: n}` mode when
    /// it triggers.
    ///
    /// # Errors
    /// The configured [`CommandError`].
    pub async fn run_command(
        &self,
        command: &str,
        app_name: Option<&str>,
    ) -> Result<(), CommandError> {
        let Some(action) = self.trigger(command, app_name) else {
            return Ok(());
        };
        if let Some(deadline) = action.block_until {
            tokio::time::sleep_until(deadline).await;
        }
        if action.close_connection {
            return Err(CommandError::ConnectionClosed {
                command: command.to_owned(),
            });
        }
        if let Some(code) = action.error_code {
            return Err(CommandError::Server {
                command: command.to_owned(),
                code,
            });
        }
        Ok(())
    }

    /// Decides, under the lock, whether `command` triggers the fail point.
    fn trigger(&self, command: &str, app_name: Option<&str>) -> Option<Action> {
        let mut inner = self.inner.lock().expect("fail point lock");
        let config = inner.config.as_mut()?;
        if !config.commands.iter().any(|c| c == command) {
            return None;
        }
        if let Some(wanted) = &config.app_name {
            if app_name != Some(wanted.as_str()) {
                return None;
            }
        }
        let (block, error_code, close_connection) =
            (config.block, config.error_code, config.close_connection);
        if let Mode::Times(n) = &mut config.mode {
            *n -= 1;
            if *n == 0 {
                inner.config = None;
            }
        }
        let block_until = block.map(|b| block_deadline(&mut inner.last_block, Instant::now() + b));
        Some(Action {
            block_until,
            error_code,
            close_connection,
        })
    }
}

/// `wanted`, or the previous blocked command's deadline when it is less than
/// [`BLOCK_COALESCE`] earlier.
fn block_deadline(last: &mut Option<Instant>, wanted: Instant) -> Instant {
    let deadline = match *last {
        Some(previous) if previous <= wanted && wanted - previous < BLOCK_COALESCE => previous,
        _ => wanted,
    };
    *last = Some(deadline);
    deadline
}

/// Parses a `configureFailPoint` command; `Ok(None)` is `mode: "off"`.
fn parse(command: &Value) -> Result<Option<Config>, String> {
    let obj = command
        .as_object()
        .ok_or("configureFailPoint: not a document")?;
    for key in obj.keys() {
        if !matches!(key.as_str(), "configureFailPoint" | "mode" | "data") {
            return Err(format!("configureFailPoint: unsupported key {key:?}"));
        }
    }
    match obj.get("configureFailPoint").and_then(Value::as_str) {
        Some("failCommand") => {}
        other => {
            return Err(format!(
                "configureFailPoint: only failCommand is emulated, not {other:?}"
            ))
        }
    }
    let mode = match obj.get("mode") {
        Some(Value::String(s)) if s == "off" => return Ok(None),
        Some(Value::String(s)) if s == "alwaysOn" => Mode::AlwaysOn,
        Some(Value::Object(m)) if m.len() == 1 && m.contains_key("times") => {
            match m.get("times").and_then(Value::as_u64) {
                Some(0) => return Ok(None),
                Some(n) => Mode::Times(n),
                None => {
                    return Err(
                        "configureFailPoint: mode.times must be a non-negative integer".into(),
                    )
                }
            }
        }
        other => return Err(format!("configureFailPoint: unsupported mode {other:?}")),
    };
    let data = obj
        .get("data")
        .and_then(Value::as_object)
        .ok_or("configureFailPoint: data must be a document")?;
    let mut config = Config {
        mode,
        commands: Vec::new(),
        app_name: None,
        block: None,
        error_code: None,
        close_connection: false,
    };
    let mut block_connection = false;
    for (key, value) in data {
        let bad = || format!("configureFailPoint: bad data.{key}: {value}");
        match key.as_str() {
            "failCommands" => {
                let list = value.as_array().ok_or_else(bad)?;
                for c in list {
                    config.commands.push(c.as_str().ok_or_else(bad)?.to_owned());
                }
            }
            "appName" => config.app_name = Some(value.as_str().ok_or_else(bad)?.to_owned()),
            "blockConnection" => block_connection = value.as_bool().ok_or_else(bad)?,
            "blockTimeMS" => {
                config.block = Some(Duration::from_millis(value.as_u64().ok_or_else(bad)?))
            }
            "errorCode" => config.error_code = Some(value.as_i64().ok_or_else(bad)?),
            "closeConnection" => config.close_connection = value.as_bool().ok_or_else(bad)?,
            _ => return Err(format!("configureFailPoint: unsupported data.{key}")),
        }
    }
    if config.commands.is_empty() {
        return Err("configureFailPoint: data.failCommands must name at least one command".into());
    }
    match (block_connection, config.block) {
        (true, None) => return Err("configureFailPoint: blockConnection needs blockTimeMS".into()),
        (false, Some(_)) => config.block = None, // mongod ignores blockTimeMS without it
        _ => {}
    }
    Ok(Some(config))
}

/// Checks the emulation itself; the runner calls it before the spec files.
///
/// # Errors
/// What went wrong.
pub async fn self_test() -> Result<(), String> {
    use serde_json::json;

    let fp = FailPoint::new();
    let check = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("fail point self-test: {what}"))
        }
    };

    fp.configure(&json!({
        "configureFailPoint": "failCommand",
        "mode": {"times": 2},
        "data": {"failCommands": ["hello"], "errorCode": 91, "appName": "a"}
    }))?;
    check(
        fp.run_command("hello", Some("b")).await.is_ok(),
        "appName filter",
    )?;
    check(
        fp.run_command("ping", Some("a")).await.is_ok(),
        "command filter",
    )?;
    let hit = fp.run_command("hello", Some("a")).await;
    check(
        hit == Err(CommandError::Server {
            command: "hello".into(),
            code: 91,
        }),
        "errorCode",
    )?;
    check(fp.is_active(), "times: one use left")?;
    check(
        fp.run_command("hello", Some("a")).await.is_err(),
        "second use",
    )?;
    check(!fp.is_active(), "times: off after the last use")?;
    check(
        fp.run_command("hello", Some("a")).await.is_ok(),
        "off after times",
    )?;

    fp.configure(&json!({
        "configureFailPoint": "failCommand",
        "mode": "alwaysOn",
        "data": {"failCommands": ["isMaster", "hello"], "closeConnection": true}
    }))?;
    for _ in 0..3 {
        let hit = fp.run_command("isMaster", None).await;
        check(
            hit == Err(CommandError::ConnectionClosed {
                command: "isMaster".into(),
            }),
            "closeConnection",
        )?;
    }
    fp.configure(&json!({"configureFailPoint": "failCommand", "mode": "off"}))?;
    check(!fp.is_active(), "mode off")?;

    fp.configure(&json!({
        "configureFailPoint": "failCommand",
        "mode": "alwaysOn",
        "data": {"failCommands": ["hello"], "blockConnection": true, "blockTimeMS": 20}
    }))?;
    let start = Instant::now();
    check(
        fp.run_command("hello", None).await.is_ok(),
        "blockConnection succeeds",
    )?;
    check(start.elapsed() >= Duration::from_millis(20), "blockTimeMS")?;
    fp.disable();

    let unsupported = json!({"configureFailPoint": "failCommand", "mode": {"skip": 1}, "data": {}});
    check(
        fp.configure(&unsupported).is_err(),
        "unsupported mode refused",
    )?;
    Ok(())
}
