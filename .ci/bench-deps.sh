#!/usr/bin/env bash
# What compare's C cases need (see benches/compare/c/README.md): gcc for the
# C programs, the mimalloc and jemalloc shared libraries to LD_PRELOAD,
# python3 and sqlite3 for the real-program cases. Best effort: compare
# skips an allocator whose library is missing (with a line in the report)
# and a real-program case whose program is missing, so a failed install
# does not fail CI.
set -uo pipefail
pkgs=(gcc libc6-dev libmimalloc2.0 libjemalloc2 python3 sqlite3)
sudo=()
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo -n); else
        echo "bench-deps: not root and no sudo; compare skips what is missing"; exit 0
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "bench-deps: no apt-get; compare skips what is missing"; exit 0
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "bench-deps: all installed (${pkgs[*]})"; exit 0
fi
echo "bench-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq || true
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" || echo "bench-deps: install failed; compare skips what is missing"
exit 0
