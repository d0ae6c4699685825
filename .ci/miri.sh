#!/usr/bin/env bash
# Miri over the tests that run on the mock page source (MockPages), chosen to
# finish in a few minutes on CI (2 cores). Installs miri and rust-src on the
# nightly toolchain if missing.
#
# What runs (see the filters below and fuzz/README.md for the rationale):
# * `--lib`: every unit test in src/ (size classes, tags, options, arena,
#   freelist, mock page source, ...);
# * the integration tests listed in MIRI_TESTS, with the test-name filters in
#   MIRI_SKIP removed: multi-million-operation stress tests and tests that go
#   through the OS page source (`OsPages`: mmap/madvise/mremap, which Miri
#   cannot execute) or the `HakMem` global allocator are skipped; they are
#   covered natively by `cargo test` and by the fuzzers.
#
# MIRIFLAGS:
# * -Zmiri-permissive-provenance: the page map and `free`'s slab lookup work
#   on addresses (`ptr as usize`), and a few paths still turn integers back
#   into pointers; the allocator's whole job is address arithmetic. Permissive
#   provenance makes Miri accept int-to-ptr casts of exposed addresses (instead
#   of warning on each) while still checking every access against the
#   allocation it lands in.
# * -Zmiri-disable-isolation: `MockPages` has its own clock, but std's
#   `thread::sleep`/`Instant` in some tests need the host clock.
# * -Zmiri-num-cpus=4: tests size thread counts from available_parallelism.
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

export MIRIFLAGS="${MIRIFLAGS:--Zmiri-permissive-provenance -Zmiri-disable-isolation -Zmiri-num-cpus=4}"
cargo +nightly miri setup

echo "== miri: unit tests (--lib)"
cargo +nightly miri test --lib

MIRI_TESTS=${MIRI_TESTS:-"pool heap"}
# Substrings of test names that are too slow (or need the OS) under Miri.
MIRI_SKIP=${MIRI_SKIP:-"stress million wrap"}
skips=()
for s in $MIRI_SKIP; do
    skips+=(--skip "$s")
done
for t in $MIRI_TESTS; do
    echo "== miri: tests/$t.rs (skipping: $MIRI_SKIP)"
    cargo +nightly miri test --test "$t" -- "${skips[@]}"
done
echo "== miri: passed"
