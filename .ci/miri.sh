#!/usr/bin/env bash
# Miri over the tests that run on the mock page source (MockPages) and finish
# in a few minutes on CI (2 cores; about 4 minutes here). Installs miri and
# rust-src on the nightly toolchain if missing.
#
# What runs:
# * `--lib`: every unit test in src/ (size classes, tags, options, arena,
#   freelist, mock page source);
# * tests/pool.rs except the multi-thread million-operation stress test: the
#   stale-entry timelines, generations and their wrap-around, stage order, OOM;
# * tests/heap.rs: out-of-memory recovery and abandonment/adoption, which
#   drive the heap's refill, drain, remote-free and thread-exit paths, and
#   the ascending-order test (the drain's move of a bin's kept half).
# Skipped: stress and churn tests (hundreds of thousands of operations, hours
# under Miri), the realloc test (multi-MiB copies), and everything that goes
# through the OS page source or the `HakMem` global allocator (mmap/madvise/
# mremap, pthread keys: not executable under Miri). Those run natively in
# `cargo test`, and the fuzzers cover the same paths with checking.
#
# MIRIFLAGS (override by setting MIRIFLAGS):
# * -Zmiri-permissive-provenance: MockPages records each System allocation's
#   address as a `usize` and casts it back to a pointer to free it
#   (src/platform/mock.rs, `unmap` and `drop`). That int-to-pointer cast is
#   accepted by Miri's default (permissive) provenance model anyway; the flag
#   only silences the per-site warning. Every access is still checked against
#   the allocation its pointer's provenance names. Isolation stays on: the
#   chosen tests need no host clock or environment.
#
# Miri is slow here mainly because every `&Pool`/`&Heap` retag walks the page
# map's 8192 inline `AtomicPtr`s (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
installed=$(rustup component list --toolchain nightly --installed)
for c in miri rust-src; do
    if ! grep -q "^$c" <<<"$installed"; then
        rustup component add --toolchain nightly "$c"
    fi
done

export MIRIFLAGS="${MIRIFLAGS:--Zmiri-permissive-provenance}"
cargo +nightly miri setup

echo "== miri: unit tests (--lib)"
cargo +nightly miri test --lib

echo "== miri: tests/pool.rs (without the stress test)"
cargo +nightly miri test --test pool -- --skip stress

echo "== miri: tests/heap.rs (OOM recovery, abandonment, adoption, claim on free, drains)"
cargo +nightly miri test --test heap -- --exact \
    out_of_memory_returns_null_and_recovers \
    exited_threads_slabs_are_abandoned_then_adopted \
    an_abandoned_slab_is_released_by_whoever_frees_its_last_block \
    blocks_go_out_in_ascending_address_order

echo "== miri: passed"
