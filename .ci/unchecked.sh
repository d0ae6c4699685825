#!/usr/bin/env bash
# Negative control for the fast paths' free-mark checks
# (`mitigations::CHECK_MARKS`): the measurement build without them
# (`--cfg hakmem_unchecked_marks`, benches/README.md "What the default's
# checks cost") must still build and lint clean, and tests/misuse.rs must
# notice what it gives up: each case below must fail for "not aborted",
# the misuse going by silently. A misuse test that kept passing here would
# be checking nothing of the mark. (Without the checks, two more cases
# fail differently: a double free after reuse is reported later, by the
# slab, as "free of a block in a slab that is not in use"; an unaligned
# free is read as a block, which debug builds stop as a misaligned
# dereference.)
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg hakmem_unchecked_marks"
dir=target/unchecked
cargo clippy --all-targets --target-dir "$dir" -- -D warnings
cases=(double_free_delayed_aba double_free_delayed_8_byte_class write_after_free_into_link write_after_free_of_zero_into_link)
log=$(mktemp)
if cargo test --target-dir "$dir" --test misuse -- "${cases[@]}" >"$log" 2>&1; then
    cat "$log"
    echo "unchecked.sh: the misuse tests passed without the mark checks" >&2
    exit 1
fi
for c in "${cases[@]}"; do
    if ! grep -q "^---- $c stdout ----" "$log"; then
        cat "$log"
        echo "unchecked.sh: $c did not fail" >&2
        exit 1
    fi
done
n=$(grep -c "not aborted" "$log" || true)
if [ "$n" -lt "${#cases[@]}" ]; then
    cat "$log"
    echo "unchecked.sh: want ${#cases[@]} 'not aborted' failures, got $n" >&2
    exit 1
fi
echo "unchecked.sh: all ${#cases[@]} cases fail for 'not aborted' without the mark checks"
rm -f "$log"
