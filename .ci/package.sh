#!/usr/bin/env bash
# The crate as a user receives it: `cargo package` (which also builds the
# unpacked crate) and `cargo doc` with the docs.rs features, both without a
# warning, and a package that holds only what belongs in it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Only the library, its documents and the sources of the manifest's own
# targets (Cargo.toml `include`); anything else is a mistake.
unexpected=$(cargo package --list --allow-dirty 2>/dev/null | grep -vE \
    '^(src/.*\.rs|tests/.*\.rs|verify/[a-z_]+\.rs|benches/fastpath\.rs|README\.md|CHANGELOG\.md|LICENSE-(MIT|APACHE)|Cargo\.(toml|toml\.orig|lock)|\.cargo_vcs_info\.json)$' || true)
if [ -n "$unexpected" ]; then
    echo "FAIL: the package would ship:"; echo "$unexpected"; exit 1
fi

# --allow-dirty: CI may run on a tree with local edits; the `include` list,
# not git, decides what is packaged.
log=$(mktemp)
cargo package --allow-dirty 2>&1 | tee "$log"
if grep -q '^warning' "$log"; then
    echo "FAIL: cargo package warned"; exit 1
fi

# The features docs.rs builds with (Cargo.toml [package.metadata.docs.rs]).
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --features stats
echo "ok: package and docs clean"
