#!/usr/bin/env bash
# PyMongo smoke test of the mock-server binary, end to end:
#   1. install pymongo (quietly) into a venv under target/ (or the user site if venv is
#      unavailable),
#   2. build the mock-server binary (release) and start it on a free loopback port,
#   3. wait until the port accepts connections,
#   4. run ci/pymongo_smoke.py against it (the server runs with --judge; the last check
#      is that its pool judge saw no violation),
#   5. stop the server, whatever happened (trap).
# Usage: bash ci/pymongo_smoke.sh        Exit status: the smoke test's.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
VENV="$TARGET_DIR/pymongo-smoke-venv"
PYTHON="${PYTHON:-python3}"
START_TIMEOUT_S=60

# ----- pymongo -----
if "$PYTHON" -m venv "$VENV" >/dev/null 2>&1 || [ -x "$VENV/bin/python" ]; then
    PY="$VENV/bin/python"
    "$PY" -m pip install --quiet --disable-pip-version-check pymongo
else
    echo "pymongo-smoke: no venv support; installing pymongo into the user site" >&2
    PY="$PYTHON"
    "$PY" -m pip install --quiet --disable-pip-version-check --user pymongo
fi
"$PY" -c 'import pymongo; print("pymongo-smoke: pymongo", pymongo.version)'

# ----- the server -----
cargo build --release --quiet --locked -p mock-server --features cli
SERVER_BIN="$TARGET_DIR/release/mock-server"
PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
LOG="$(mktemp -t pymongo-smoke-server.XXXXXX.log)"

SERVER_PID=""
cleanup() {
    local status=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ]; then
        echo "pymongo-smoke: failed (status $status); server log:" >&2
        tail -n 50 "$LOG" >&2 || true
    fi
    rm -f "$LOG"
    exit "$status"
}
trap cleanup EXIT INT TERM

# The pool judge watches PyMongo's pools; the smoke test checks its verdict last.
RUST_LOG="${RUST_LOG:-warn}" "$SERVER_BIN" --port "$PORT" --judge max-pool-size=100,max-connecting=2 >"$LOG" 2>&1 &
SERVER_PID=$!
echo "pymongo-smoke: mock-server (pid $SERVER_PID) on 127.0.0.1:$PORT"

# Wait until the port accepts a connection (polling, with a deadline).
deadline=$((SECONDS + START_TIMEOUT_S))
until "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$PORT" 2>/dev/null; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "pymongo-smoke: mock-server exited before accepting connections" >&2
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "pymongo-smoke: port $PORT not accepting after ${START_TIMEOUT_S}s" >&2
        exit 1
    fi
    sleep 0.1
done

# ----- the smoke test -----
"$PY" ci/pymongo_smoke.py --port "$PORT" --judge
