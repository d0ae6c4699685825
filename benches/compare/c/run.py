#!/usr/bin/env python3
"""C workloads and real programs under LD_PRELOAD, every allocator side by side.

Builds the C workloads of this folder with gcc, then runs each case with the
system allocator (glibc, no preload), mimalloc and jemalloc (Debian's
libmimalloc2.0 / libjemalloc2 shared libraries) and hakmem
(target/release/libhakmem.so from `cargo build --release -p hakmem-capi`;
the column is left out, with a note, when that package is not in the
workspace or does not build). Runs are interleaved and the allocator order
rotates each run. Time is the program's own timed part (its RESULT line) or
the process's wall time; peak RSS is the process's ru_maxrss from wait4,
taken by a small C launcher (measure.c) so that the parent's image does not
count.

The C programs are our own re-implementations of the classic workloads
(xmalloc-test, cache-scratch, larson, malloc-large) with our own
parameters, not mimalloc-bench's programs.

Usage: python3 benches/compare/c/run.py [--runs N] [--quick] [--out DIR]
Needs: gcc; apt-get install libmimalloc2.0 libjemalloc2 sqlite3.
"""
import argparse
import os
import statistics
import subprocess
import sys
import glob
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
LIBDIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"]

SQL = """PRAGMA journal_mode=OFF;
CREATE TABLE t(id INTEGER PRIMARY KEY, user TEXT, country TEXT, amount REAL, note TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<{rows})
INSERT INTO t SELECT x, 'user-'||(x*7919%20000), 'c'||(x%50), (x*31%10007)/100.0,
  substr(hex(randomblob(120)), 1, 20 + x%200) FROM c;
CREATE INDEX iu ON t(user);
SELECT country, count(*), sum(amount) FROM t GROUP BY country ORDER BY 3 DESC LIMIT 3;
SELECT user, length(group_concat(note)) AS l FROM t GROUP BY user ORDER BY l DESC LIMIT 3;
SELECT count(DISTINCT note) FROM t;
"""

PY = """
import json
rows = [{"id": i, "user": "user-%d" % (i * 7919 % 20000), "tags": ["t%d" % (i % 7), "x" * (i % 50)],
         "amount": (i * 31 % 10007) / 100.0} for i in range(NROWS)]
text = "\\n".join(json.dumps(r) for r in rows)
back = [json.loads(l) for l in text.split("\\n")]
by_user = {}
for r in back:
    by_user.setdefault(r["user"], []).append(r)
top = sorted(by_user.items(), key=lambda kv: -sum(r["amount"] for r in kv[1]))[:10]
print(len(back), len(by_user), top[0][0])
"""


def find_lib(names):
    for d in LIBDIRS:
        for n in names:
            p = os.path.join(d, n)
            if os.path.exists(p):
                return p
    return None


def hakmem_lib(notes):

    manifests = glob.glob(os.path.join(ROOT, "*", "Cargo.toml")) + glob.glob(os.path.join(ROOT, "*", "*", "Cargo.toml"))
    if not any('name = "hakmem-capi"' in open(m).read() for m in manifests):
        notes.append("hakmem: skipped, the workspace has no `hakmem-capi` package (the C API crate) yet")
        return None
    print("run.py: cargo build --release -p hakmem-capi ...", file=sys.stderr)
    if subprocess.run(["cargo", "build", "--release", "-p", "hakmem-capi"], cwd=ROOT).returncode != 0:
        notes.append("hakmem: skipped, `cargo build --release -p hakmem-capi` failed")
        return None
    lib = os.path.join(ROOT, "target", "release", "libhakmem.so")
    if not os.path.exists(lib):
        notes.append("hakmem: skipped, target/release/libhakmem.so not found after the build")
        return None
    return lib


def measure(launcher, cmd, env, stdin_text):
    """Runs cmd through the C launcher; returns (secs, peak_rss_kib, error)."""
    p = subprocess.run([launcher] + cmd, env=env, input=stdin_text if stdin_text is not None else "",
                       capture_output=True, text=True)
    fields = {}
    secs = None
    for line in p.stdout.splitlines():
        if line.startswith("MEASURE "):
            fields = dict(f.split("=", 1) for f in line.split()[1:])
        elif line.startswith("RESULT "):
            secs = float(dict(f.split("=", 1) for f in line.split()[1:])["secs"])
    if not fields or fields["status"] != "0":
        return None, None, "failed (%s)" % (fields.get("status", "no MEASURE line"))
    return (secs if secs is not None else float(fields["secs"])), int(fields["peak_rss_kib"]), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results"))
    a = ap.parse_args()
    runs = a.runs or (3 if a.quick else 5)
    build = os.path.join(ROOT, "target", "bench-c")
    os.makedirs(build, exist_ok=True)
    bins = {}
    for prog in ["measure", "xmalloc-test", "cache-scratch", "larson", "malloc-large"]:
        out = os.path.join(build, prog)
        subprocess.run(["gcc", "-O2", "-pthread", "-o", out, os.path.join(HERE, prog + ".c")], check=True)
        bins[prog] = out
    q = a.quick
    cases = [
        ("xmalloc-test", [bins["xmalloc-test"], "1", "200000" if q else "1000000"], None, {}),
        ("cache-scratch", [bins["cache-scratch"], "2", "250000" if q else "1000000", "8", "10"], None, {}),
        ("larson", [bins["larson"], "2", "1000", "10" if q else "20", "50000" if q else "100000"], None, {}),
        ("malloc-large", [bins["malloc-large"], "1000" if q else "4000"], None, {}),
    ]
    notes = []
    sqlite = subprocess.run(["sh", "-c", "command -v sqlite3"], capture_output=True, text=True).stdout.strip()
    if sqlite:
        cases.append(("sqlite3 (in-memory)", [sqlite, ":memory:"], SQL.format(rows=50000 if q else 200000), {}))
    else:
        notes.append("sqlite3: skipped, not installed (apt-get install sqlite3)")
    py = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"], capture_output=True, text=True).stdout.strip()
    if py:
        cases.append(("python json (PYTHONMALLOC=malloc)", [py, "-c", PY.replace("NROWS", str(50000 if q else 200000))],
                      None, {"PYTHONMALLOC": "malloc"}))
    allocs = [("system", None)]
    for name, libs in [("mimalloc", ["libmimalloc.so.2", "libmimalloc.so"]), ("jemalloc", ["libjemalloc.so.2"])]:
        lib = find_lib(libs)
        if lib:
            allocs.append((name, lib))
        else:
            notes.append("%s: skipped, no %s (apt-get install lib%s)" % (name, libs[0], name))
    lib = hakmem_lib(notes)
    if lib:
        allocs.append(("hakmem", lib))
    res = {}
    for run in range(runs):
        for cname, cmd, stdin_text, extra_env in cases:
            order = allocs[run % len(allocs):] + allocs[:run % len(allocs)]
            for aname, lib in order:
                env = dict(os.environ, **extra_env)
                env.pop("LD_PRELOAD", None)
                if lib:
                    env["LD_PRELOAD"] = lib
                secs, rss, err = measure(bins["measure"], cmd, env, stdin_text)
                res.setdefault((cname, aname), []).append((secs, rss, err))
                print("[%d/%d] %s %s: %s" % (run + 1, runs, cname, aname,
                      err or "%.3f s, peak RSS %.1f MiB" % (secs, rss / 1024)), file=sys.stderr)
    names = [n for n, _ in allocs]
    lines = ["# C workloads and real programs under LD_PRELOAD", "",
             "`python3 benches/compare/c/run.py%s` — %d runs per cell, interleaved; %s; %d CPUs; load %s." % (
                 " --quick" if q else "", runs, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 os.cpu_count(), os.getloadavg()[0]),
             "",
             "Median time (s, lower is better) and median peak RSS (MiB). The C programs are our own "
             "re-implementations of the classic workloads with our own parameters, not mimalloc-bench's programs.",
             "", "| case | " + " | ".join("%s time | %s RSS" % (n, n) for n in names) + " |",
             "| --- | " + " | ".join("---: | ---:" for _ in names) + " |"]
    for cname, *_ in cases:
        cells = []
        for n in names:
            ok = [(s, r) for s, r, e in res[(cname, n)] if e is None]
            fails = len(res[(cname, n)]) - len(ok)
            if not ok:
                cells += ["FAIL", "—"]
                continue
            t = statistics.median(s for s, _ in ok)
            rss = statistics.median(r for _, r in ok) / 1024
            cells += ["%.3f%s" % (t, " (%d failed)" % fails if fails else ""), "%.1f" % rss]
        lines.append("| %s | %s |" % (cname, " | ".join(cells)))
    if notes:
        lines += [""] + ["- " + n for n in notes]
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "compare-c.md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print("wrote", path, file=sys.stderr)


if __name__ == "__main__":
    main()
