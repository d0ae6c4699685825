#!/usr/bin/env bash
# The `secure` feature (README "Misuse and hardening"): lint and the test
# suite with the extra misuse checks on (tests/misuse.rs runs its secure-only
# cases: canary, class check, guard page, poisoning, shuffled carving).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo clippy --all-targets --features secure -- -D warnings
cargo test --features secure
