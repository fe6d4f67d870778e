#!/usr/bin/env bash
# examples/own-pool, as a pool author runs it: `cargo test` passes; with the `broken`
# feature it fails with a POOLCHECK_REPLAY line; running the test again with that value
# fails the same way (the same violation, replayed from the token alone).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../examples/own-pool"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/../../target}/own-pool"

echo "--- cargo test (the correct pool passes)"
cargo test --locked

echo "--- cargo test --features broken (must fail)"
if out=$(cargo test --locked --features broken 2>&1); then
    echo "$out" | tail -n 20
    echo "own-pool: the broken pool passed its check" >&2
    exit 1
fi
echo "$out" | grep -E "FAILED, |shrunk to|replay: " | cut -c1-240
token=$(echo "$out" | grep -o "POOLCHECK_REPLAY='[^']*'" | head -n 1 | sed "s/^POOLCHECK_REPLAY='//; s/'\$//")
if [ -z "$token" ]; then
    echo "own-pool: the failure printed no POOLCHECK_REPLAY line" >&2
    exit 1
fi
expected=$(echo "$out" | grep -m1 "shrunk to" | sed 's/.* runs: //')

echo "--- POOLCHECK_REPLAY=<token> cargo test --features broken (must fail the same way)"
if again=$(POOLCHECK_REPLAY="$token" cargo test --locked --features broken 2>&1); then
    echo "own-pool: the replayed case passed" >&2
    exit 1
fi
got=$(echo "$again" | grep -m1 "violated: " | sed 's/.*violated: //')
echo "expected: $expected" | cut -c1-240
echo "replayed: $got" | cut -c1-240
if [ "$got" != "$expected" ]; then
    echo "own-pool: the replay did not fail the same way" >&2
    exit 1
fi
echo "own-pool: 3 passed, 0 failed"
