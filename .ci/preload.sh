#!/usr/bin/env bash
# Real programs under LD_PRELOAD=libhakmem.so, each result compared with a
# run of the same program without it: python3's own stdlib tests, sqlite3 on
# a generated database, git on a scratch repository, gcc compiling a C file,
# sort of a large file, xz -T2, and a shell script that forks and execs a
# few hundred times. Installs what it needs (Debian/Ubuntu). A few minutes.
# HAKMEM_SO: the library to test (default: the release build, built here).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if ! command -v sqlite3 >/dev/null || ! command -v xz >/dev/null || ! command -v gcc >/dev/null || ! command -v git >/dev/null || ! command -v python3 >/dev/null; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq sqlite3 xz-utils gcc git python3 >/dev/null
fi
if ! python3 -c 'import test.test_json' 2>/dev/null; then
    v=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get install -y -qq "libpython$v-testsuite" >/dev/null
fi

SO=${HAKMEM_SO:-$ROOT/target/release/libhakmem.so}
if [ ! -f "$SO" ]; then cargo build --release -p hakmem-capi; fi
SO=$(realpath "$SO")

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0

# The library is really in use: the stats report appears at exit.
LD_PRELOAD=$SO HAKMEM_STATS=1 bash -c 'echo "$(seq 1000)"' >/dev/null 2>"$W/stats"
grep -q '^hakmem stats' "$W/stats" || { echo "LD_PRELOAD did not load $SO"; exit 1; }

# Each case writes what it produced (or a digest of it) to $1/result.
case_python() {
    # The list of failing tests (some fail on some machines without us too)
    # and the number run.
    (cd "$1" && python3 -m test -v test_json test_sqlite3 test_threading test_subprocess >out 2>&1 || true)
    { grep -E '^(FAIL|ERROR): ' "$1/out" | sort; grep -E '^Total tests:' "$1/out" | sed 's/ skipped=.*//'; } >"$1/result"
}
case_sqlite() {
    sqlite3 "$1/db" <<'SQL' >"$1/result"
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, name TEXT, blob BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
INSERT INTO t SELECT i, (i * 7919) % 1000, printf('name-%08d', (i * 104729) % 200000), zeroblob(i % 300) FROM n;
CREATE INDEX tk ON t(k);
CREATE TABLE u AS SELECT k, count(*) AS c, sum(length(blob)) AS b FROM t GROUP BY k;
SELECT count(*), sum(k), max(name), min(name) FROM t;
SELECT k, c, b FROM u ORDER BY b DESC, k LIMIT 5;
SELECT t.k, count(*) FROM t JOIN u ON t.k = u.k WHERE u.c > 199 GROUP BY t.k ORDER BY t.k LIMIT 5;
SELECT name FROM t ORDER BY name DESC LIMIT 3;
DELETE FROM t WHERE id % 3 = 0;
VACUUM;
SELECT count(*), total(length(blob)) FROM t;
PRAGMA integrity_check;
SQL
}
case_git() {
    export GIT_AUTHOR_NAME=ci GIT_AUTHOR_EMAIL=ci@example.invalid GIT_COMMITTER_NAME=ci GIT_COMMITTER_EMAIL=ci@example.invalid
    export GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' GIT_CONFIG_NOSYSTEM=1 HOME=$1
    local r=$1/repo
    git init -q -b main "$r"
    cp -r "$ROOT/src" "$r/"
    (cd "$r" && git add -A && git commit -q -m first && echo more >>src/lib.rs && git commit -q -am second \
        && git log --stat && git gc -q && git fsck --full 2>&1 && git rev-parse HEAD) >"$1/result"
}
case_gcc() {
    gcc -O2 -c "$ROOT/tests/capi/semantics.c" -o "$1/semantics.o" 2>/dev/null
    sha256sum <"$1/semantics.o" >"$1/result"
}
case_sort() {
    awk 'BEGIN { srand(1); for (i = 0; i < 1500000; i++) printf "%08d %s\n", int(rand() * 1e8), i }' >"$1/in"
    sort -S 64M --parallel=2 -k1,1 -k2n "$1/in" | sha256sum >"$1/result"
}
case_xz() {
    awk 'BEGIN { srand(2); for (i = 0; i < 400000; i++) printf "%d line %d %s\n", i, int(rand() * 1000), (i % 7 ? "abc" : "xyz") }' >"$1/in"
    xz -T2 --block-size=1MiB -6 -c "$1/in" >"$1/in.xz"
    { sha256sum <"$1/in.xz"; xz -T2 -dc "$1/in.xz" | sha256sum; } >"$1/result"
}
case_forks() {
    # 300 rounds of command substitution (fork) and external commands (exec).
    bash -c 'n=0; for i in $(seq 300); do x=$(echo "$i" | tr 0-9 a-j); y=$(expr "$i" \* 3); n=$((n + ${#x} + y)); done; echo "$n"' >"$1/result"
}

for c in ${PRELOAD_CASES:-python sqlite git gcc sort xz forks}; do
    mkdir -p "$W/plain-$c" "$W/hakmem-$c"
    t0=$(date +%s)
    ( "case_$c" "$W/plain-$c" )
    t1=$(date +%s)
    ( export LD_PRELOAD=$SO; "case_$c" "$W/hakmem-$c" )
    t2=$(date +%s)
    if cmp -s "$W/plain-$c/result" "$W/hakmem-$c/result"; then
        echo "ok    $c (plain $((t1 - t0)) s, LD_PRELOAD $((t2 - t1)) s)"
    else
        echo "FAIL  $c: output differs under LD_PRELOAD"
        diff "$W/plain-$c/result" "$W/hakmem-$c/result" | head -20 || true
        fail=1
    fi
done
exit $fail
