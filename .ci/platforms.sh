#!/usr/bin/env bash
# Platforms: the outcome the README promises, per target.
#   aarch64-unknown-linux-gnu   supported: `cargo check --lib` must pass
#   x86_64-apple-darwin         unsupported: must fail with our compile_error!
#   x86_64-pc-windows-gnu       unsupported: must fail with our compile_error!
# `cargo check` needs only the target's standard library (no linker, no C
# toolchain), which `rustup target add` installs.
set -euo pipefail
cd "$(dirname "$0")/.."

MSG='hakmem-alloc supports Linux on x86_64 and aarch64 only'
SUPPORTED=(aarch64-unknown-linux-gnu)
UNSUPPORTED=(x86_64-apple-darwin x86_64-pc-windows-gnu)

rustup target add "${SUPPORTED[@]}" "${UNSUPPORTED[@]}"

fail=0
for t in "${SUPPORTED[@]}"; do
    if cargo check --lib --quiet --target "$t" --target-dir target/platforms; then
        echo "ok: $t builds"
    else
        echo "FAIL: $t is supported but does not build"
        fail=1
    fi
done
for t in "${UNSUPPORTED[@]}"; do
    log=target/platforms/check-$t.log
    mkdir -p target/platforms
    if cargo check --lib --quiet --target "$t" --target-dir target/platforms >"$log" 2>&1; then
        echo "FAIL: $t built; the README says it is unsupported"
        fail=1
    elif grep -qF "$MSG" "$log"; then
        echo "ok: $t refused with our message"
    else
        echo "FAIL: $t failed without our message:"
        cat "$log"
        fail=1
    fi
done
exit "$fail"
