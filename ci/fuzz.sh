#!/usr/bin/env bash
# Builds every cargo-fuzz target under fuzz/ and runs each for FUZZ_SECONDS (default 60)
# seconds. Any crash, leak, timeout or out-of-memory fails the script (after all targets
# ran); the reproducer is left in fuzz/artifacts/<target>/. Prints execs/s, total execs
# and coverage (edges "cov", features "ft", corpus size) per target.
#
#   FUZZ_SECONDS=300 bash ci/fuzz.sh                 # longer runs
#   FUZZ_TARGETS="wire_decode pool_ops" bash ci/fuzz.sh
#   FUZZ_JOBS=2 bash ci/fuzz.sh                      # run two targets at a time
#
# Needs a nightly toolchain (cargo-fuzz builds with -Zsanitizer=address). Targets are
# built with debug assertions (`-a`), so the engine's invariant checks are on.
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
FUZZ_DIR="$(pwd)"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
TARGETS="${FUZZ_TARGETS:-waiter_queue wire_decode pool_ops server_session}"
TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"
JOBS="${FUZZ_JOBS:-1}"
LOGS="$(mktemp -d)"
trap 'rm -rf "$LOGS"' EXIT

if ! cargo "+$TOOLCHAIN" fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

echo "== building fuzz targets: $TARGETS"
cargo "+$TOOLCHAIN" fuzz build -a

# Per-target libFuzzer options.
options() {
    local opts=(-max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=10)
    case "$1" in
        # Inputs are at most a few KiB: a bigger allocation means a length field was
        # trusted before it was checked against the bytes at hand.
        wire_decode) opts+=(-dict="$FUZZ_DIR/dict/wire.dict" -malloc_limit_mb=64) ;;
        server_session) opts+=(-dict="$FUZZ_DIR/dict/server.dict") ;;
    esac
    echo "${opts[@]}"
}

run_target() {
    local target="$1"
    mkdir -p "corpus/$target"
    # shellcheck disable=SC2046
    if cargo "+$TOOLCHAIN" fuzz run -a "$target" "corpus/$target" -- $(options "$target") \
        >"$LOGS/$target.log" 2>&1; then
        echo ok >"$LOGS/$target.status"
    else
        echo FAILED >"$LOGS/$target.status"
    fi
}

echo "== running each target for ${SECONDS_PER_TARGET}s ($JOBS at a time)"
running=0
for target in $TARGETS; do
    run_target "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true

final_stat() { grep -E "^stat::$1:" "$2" | tail -1 | awk '{print $2}'; }

failed=0
printf '\n%-16s %-7s %12s %14s %8s %8s %8s\n' target result "execs/s" "total execs" cov ft corpus
for target in $TARGETS; do
    log="$LOGS/$target.log"
    status="$(cat "$LOGS/$target.status" 2>/dev/null || echo FAILED)"
    execs="$(final_stat number_of_executed_units "$log")"
    rate="$(final_stat average_exec_per_sec "$log")"
    last="$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 || true)"
    cov="$(echo "$last" | awk '{print $2}')"
    ft="$(echo "$last" | awk '{print $4}')"
    corp="$(echo "$last" | awk '{print $6}')"
    printf '%-16s %-7s %12s %14s %8s %8s %8s\n' "$target" "$status" "${rate:-?}" "${execs:-?}" \
        "${cov:-?}" "${ft:-?}" "${corp:-?}"
    if [ "$status" != ok ]; then
        failed=1
        echo "---- $target log (tail) ----"
        tail -n 60 "$log"
        echo "---- reproducer: fuzz/artifacts/$target/ ----"
    fi
done
exit "$failed"
