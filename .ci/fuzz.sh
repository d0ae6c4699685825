#!/usr/bin/env bash
# Short cargo-fuzz campaigns over every target in fuzz/ (see fuzz/README.md).
#
# 1. installs the nightly toolchain and cargo-fuzz if missing;
# 2. replays the committed seeds and saved crash inputs on stable
#    (`cargo test` in fuzz/: fast, no libFuzzer, catches regressions first);
# 3. builds every target (ASan, debug assertions on: cargo-fuzz's default);
# 4. runs each target FUZZ_SECONDS seconds (default 30) from its seed corpus,
#    one at a time (CI has 2 cores; libFuzzer uses one).
#
# Exits non-zero on the first crash, leak, timeout or OOM; the input is then in
# fuzz/artifacts/<target>/ (see fuzz/README.md for turning it into a
# regression test). Knobs: FUZZ_SECONDS, FUZZ_TARGETS (space separated),
# FUZZ_SANITIZER (address | none; none runs ~3x more execs/s).
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${FUZZ_SECONDS:-30}
TARGETS=${FUZZ_TARGETS:-"size_class pool_ops heap_ops global_ops"}
SAN=${FUZZ_SANITIZER:-address}

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

echo "== replay committed fuzz inputs (stable)"
cargo test --manifest-path fuzz/Cargo.toml --release

echo "== build fuzz targets (sanitizer: $SAN)"
cargo +nightly fuzz build -s "$SAN"

mkdir -p target/fuzz-logs
for t in $TARGETS; do
    echo "== fuzz $t for ${SECS}s"
    mkdir -p "fuzz/corpus/$t"
    log="target/fuzz-logs/$t.log"
    # The first corpus directory receives new inputs; the seeds stay untouched.
    if ! cargo +nightly fuzz run -s "$SAN" "$t" "fuzz/corpus/$t" "fuzz/corpus-seed/$t" -- \
        -max_total_time="$SECS" -timeout=30 -rss_limit_mb=3072 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz target $t failed; crash input(s):" >&2
        ls -l "fuzz/artifacts/$t" >&2 || true
        exit 1
    fi
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
done
echo "== fuzz: all targets passed"
