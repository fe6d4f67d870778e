//! Runs the `poolcheck` binary as a user would.

use std::process::{Command, Output};

fn poolcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(args)
        .output()
        .expect("the poolcheck binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn demo_with_small_load_passes() {
    let out = poolcheck(&["demo", "--tasks", "8", "--checkouts", "20", "--no-progress"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let verdict = stdout
        .lines()
        .find(|line| line.starts_with("verdict:"))
        .unwrap_or_else(|| panic!("no verdict line in:\n{stdout}"));
    // The oracle's verdict, naming the invariants it judged.
    assert!(
        verdict.starts_with("verdict: OK — MAX, LEAK, STALE, ACCT, IDLE held over "),
        "{verdict}"
    );
    assert!(
        stdout.contains("violations  0"),
        "no oracle section in:\n{stdout}"
    );
    assert!(
        stdout.contains("checkouts attempted"),
        "no summary in:\n{stdout}"
    );
    assert!(!stdout.contains("FAIL"), "a check failed:\n{stdout}");
}

#[test]
fn demo_churns_connections_and_still_passes() {
    // Every 3rd checkout marks its connection errored and every 4th connect is refused,
    // so the pool keeps closing, replacing and failing connections.
    let args = [
        "demo",
        "--tasks",
        "16",
        "--checkouts",
        "30",
        "--max-pool-size",
        "3",
        "--connect-latency-us",
        "0",
        "--error-every",
        "3",
        "--connect-fail-every",
        "4",
        "--no-progress",
    ];
    let out = poolcheck(&args);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("verdict: OK"), "{stdout}");
    assert!(
        stdout.contains("ConnectionError"),
        "no injected failure showed:\n{stdout}"
    );
}

#[test]
fn demo_json_summary_is_json() {
    let out = poolcheck(&[
        "demo",
        "--tasks",
        "4",
        "--checkouts",
        "10",
        "--connect-fail-every",
        "0",
        "--json",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&stdout).expect("stdout is one JSON document");
    assert_eq!(summary["ok"], serde_json::Value::Bool(true), "{stdout}");
    assert_eq!(summary["checkouts"]["attempted"], 40);
    assert_eq!(summary["events"]["ConnectionCheckOutStarted"], 40);
    assert!(
        summary["verdict"]
            .as_str()
            .is_some_and(|v| v.starts_with("OK")),
        "{stdout}"
    );
    let oracle = &summary["oracle"];
    assert_eq!(
        oracle["invariants"],
        serde_json::json!(["MAX", "LEAK", "STALE", "ACCT", "IDLE"]),
        "{stdout}"
    );
    assert_eq!(oracle["violations"], serde_json::json!([]), "{stdout}");
    // Every event but ConnectionPoolCreated reached the oracle: 40 started, 40 out,
    // 40 in, the pool ready and closed, and each connection created, ready and closed.
    let created = summary["events"]["ConnectionCreated"]
        .as_u64()
        .expect("a count");
    assert_eq!(oracle["events"], 40 * 3 + 2 + 3 * created, "{stdout}");
}

#[test]
fn bad_flag_is_a_usage_error() {
    let out = poolcheck(&["demo", "--tasks", "8", "--no-such-flag"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains("unexpected argument '--no-such-flag'"),
        "stderr:\n{stderr}"
    );
    assert!(stderr.contains("--help"), "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "stderr:\n{stderr}");
}

#[test]
fn bad_value_is_a_usage_error() {
    let out = poolcheck(&["demo", "--tasks", "0"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains("invalid value '0' for '--tasks <TASKS>'"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let out = poolcheck(&["bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("bogus"));
    assert!(out.stdout.is_empty());
}

/// `poolcheck serve` rejects a bad port with a usage error naming the flag, not a panic.
#[test]
fn serve_bad_port_is_a_usage_error() {
    let out = poolcheck(&["serve", "--port", "99999"]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--port"),
        "stderr: {}",
        text(&out.stderr)
    );
}

/// The main job (no subcommand) is the simulation sweep; a short one is clean and prints
/// the summary table and verdict.
#[test]
fn default_job_is_a_clean_sim_sweep() {
    let out = poolcheck(&["--seeds", "20", "--no-progress"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("seeds run          20"), "{stdout}");
    assert!(stdout.contains("verdict: OK"), "{stdout}");
}

/// A bug-zoo pool fails the sweep with a one-line replay that reproduces the violation.
#[test]
fn zoo_failure_prints_a_replay_line_that_reproduces_it() {
    let out = poolcheck(&[
        "sim",
        "--pool",
        "zoo-self-deadlock",
        "--seeds",
        "5",
        "--no-progress",
        "--no-shrink",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("replay: "))
        .expect("a replay line");
    let args: Vec<&str> = line.split_whitespace().skip(1).collect(); // drop "poolcheck"
    let again = poolcheck(&args);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stdout));
    assert!(
        text(&again.stdout).contains("verdict: FAIL"),
        "{}",
        text(&again.stdout)
    );
}

/// Bad seeds and shards are usage errors with a message, not panics.
#[test]
fn bad_seed_and_shard_are_usage_errors() {
    for args in [["sim", "--replay", "0xZZ"], ["sim", "--shard", "3/2"]] {
        let out = poolcheck(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

/// `poolcheck serve` logs to a pipe (a file, CI) without ANSI colour escapes.
#[test]
fn serve_logs_without_colour_when_not_on_a_terminal() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(["serve", "--port", "0", "--bind", "127.0.0.1"])
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("poolcheck serve starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut line = String::new();
    let read = BufReader::new(stderr).read_line(&mut line);
    let _ = child.kill();
    let _ = child.wait();
    read.expect("serve logs a line");
    assert!(line.contains("mock-server listening"), "{line:?}");
    assert!(
        !line.contains('\u{1b}'),
        "ANSI escape in piped log: {line:?}"
    );
}

/// `poolcheck serve --judge` rejects a bad spec with a usage error that says what is wrong.
#[test]
fn serve_bad_judge_spec_is_a_usage_error() {
    for (spec, says) in [
        ("max-pool-size=0", "max-pool-size must be at least 1"),
        ("pool=3", "unknown key 'pool'"),
        ("max-pool-size=ten", "not a whole number"),
    ] {
        let out = poolcheck(&["serve", "--port", "0", "--judge", spec]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{spec}: {stderr}");
        assert!(stderr.contains("--judge"), "{spec}: {stderr}");
        assert!(stderr.contains(says), "{spec}: {stderr}");
    }
}

/// `poolcheck serve --judge` prints the verdict and writes `--verdict-file` on Ctrl-C.
#[test]
fn serve_judge_reports_the_verdict_on_exit() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let file = std::env::temp_dir().join(format!("poolcheck-verdict-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let mut child = Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args([
            "serve",
            "--port",
            "0",
            "--judge",
            "max-pool-size=5",
            "--verdict-file",
        ])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("poolcheck serve starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut log = String::new();
    stderr.read_line(&mut log).expect("serve logs a line");
    assert!(log.contains("mock-server listening"), "{log}");
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    assert!(interrupted.is_ok_and(|s| s.success()));
    // Read the rest of the log, so the server never writes to a closed pipe.
    let _ = std::io::Read::read_to_string(&mut stderr, &mut log);
    let out = child.wait_with_output().expect("serve exits");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{log}");
    assert!(stdout.contains("judge: OK — 0 clients"), "{stdout}");
    let json = std::fs::read_to_string(&file).expect("verdict file written");
    let _ = std::fs::remove_file(&file);
    let verdict: serde_json::Value = serde_json::from_str(&json).expect("verdict is JSON");
    assert_eq!(verdict["ok"], serde_json::Value::Bool(true), "{json}");
    assert_eq!(verdict["violations"].as_array().map(Vec::len), Some(0));
}

/// `GET /metrics` over plain HTTP/1.1; the body.
fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("the metrics listener accepts");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request written");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

#[test]
fn demo_serves_the_pools_metrics_in_prometheus_format() {
    use std::io::BufRead;
    // A free port: bound, read and released (the demo binds it next).
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args([
            "demo",
            "--tasks",
            "4",
            "--checkouts",
            "50",
            "--connect-fail-every",
            "0",
            "--no-progress",
            "--metrics-addr",
            &addr,
            "--metrics-hold-ms",
            "60000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the demo starts");
    // The verdict line comes after the load and the close: the figures are final.
    let stdout = child.stdout.take().expect("stdout");
    let mut verdict = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("utf-8 output");
        if line.starts_with("verdict:") {
            verdict = Some(line);
            break;
        }
    }
    let body = scrape(&addr);
    let _ = child.kill();
    let _ = child.wait();
    assert!(verdict.is_some_and(|v| v.starts_with("verdict: OK")));
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let sample = |name: &str, state: Option<&str>| {
        scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == name
                    && s.labels.get("db_client_connection_pool_name") == Some("mock:27017")
                    && state.is_none_or(|st| s.labels.get("db_client_connection_state") == Some(st))
            })
            .unwrap_or_else(|| panic!("no {name} {state:?} in:\n{body}"))
            .value
            .clone()
    };
    use prometheus_parse::Value;
    // 4 tasks × 50 checkouts, all served (no connect fails), each timed once.
    match sample("db_client_connection_wait_time_count", None) {
        Value::Untyped(n) | Value::Counter(n) | Value::Gauge(n) => assert_eq!(n, 200.0, "{body}"),
        other => panic!("wait_time_count is {other:?}"),
    }
    assert!(matches!(sample("db_client_connection_max", None), Value::Gauge(v) if v == 10.0));
    assert!(
        matches!(sample("db_client_connection_count", Some("used")), Value::Gauge(v) if v == 0.0)
    );
    // After the close nothing is idle either.
    assert!(
        matches!(sample("db_client_connection_count", Some("idle")), Value::Gauge(v) if v == 0.0)
    );
    assert!(
        matches!(sample("db_client_connection_pending_requests", None), Value::Gauge(v) if v == 0.0)
    );
    match sample("db_client_connection_use_time_count", None) {
        Value::Untyped(n) | Value::Counter(n) | Value::Gauge(n) => assert_eq!(n, 200.0, "{body}"),
        other => panic!("use_time_count is {other:?}"),
    }
    // Every connection created was established once (its create_time) and counted.
    let created = match sample("db_client_connection_create_time_count", None) {
        Value::Untyped(n) | Value::Counter(n) | Value::Gauge(n) => n,
        other => panic!("create_time_count is {other:?}"),
    };
    assert!((1.0..=10.0).contains(&created), "{body}");
}
