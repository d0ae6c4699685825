#!/usr/bin/env bash
# The C API (libhakmem.so and the `override` feature): lint, the rule tests
# against the release (LTO) library, longer fork runs through the .so and
# through HakMem in a Rust binary, the fork negative control through the .so,
# then real programs under LD_PRELOAD (.ci/preload.sh). A few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "-- clippy: capi package and the override feature"
cargo clippy -p hakmem-capi --all-targets -- -D warnings
cargo clippy --all-targets --features override -- -D warnings

echo "-- build: cargo build --release -p hakmem-capi"
cargo build --release -p hakmem-capi
SO=$PWD/target/release/libhakmem.so
test -f "$SO"

echo "-- rules through the release library (fork rule: 1000 forks)"
FORK_RUNS=1000 HAKMEM_SO=$SO cargo test --release --test capi

echo "-- override feature: C and Rust share the heap"
cargo test --features override --test override

echo "-- fork through HakMem in a Rust binary: 1000 forks"
HAKMEM_FORK_RUNS=1000 cargo test --release --test fork

echo "-- negative control through the .so: without the atfork handlers a child hangs"
prog=target/capi-ci-semantics
cc -O0 -fno-builtin -Wno-alloc-size-larger-than -Wno-free-nonheap-object tests/capi/semantics.c -o "$prog" -lpthread -ldl
if HAKMEM_NO_ATFORK=1 FORK_RUNS=500 FORK_TIMEOUT_MS=2000 FORK_STOP_AT_HANG=1 LD_PRELOAD=$SO "./$prog" fork; then
    echo "negative control: no child hung in 500 forks without the handlers; the fork test cannot see the bug"
    exit 1
fi

echo "-- real programs under LD_PRELOAD"
HAKMEM_SO=$SO bash .ci/preload.sh
