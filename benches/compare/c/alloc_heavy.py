"""compare's python3 case: an allocation-heavy script run under LD_PRELOAD.

RECORDS times: build a nested record (dict, lists, strings, floats),
serialise it with json.dumps, parse it back with json.loads and keep it in
a working set of 500 records that is constantly replaced; every 100
records, build, sort and drop a list of 5000 small strings. Prints a digest
of what it produced, which must be the same under every allocator.

usage: python3 alloc_heavy.py RECORDS
"""

import hashlib
import json
import sys


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    digest = hashlib.sha256()
    live = {}
    for i in range(records):
        rec = {
            "id": i,
            "name": "user-%d" % i,
            "tags": ["t%d" % ((i * j) % 97) for j in range(20)],
            "scores": [((i * 31 + j * 17) % 1000) / 10 for j in range(30)],
            "nested": {"k%d" % j: [j] * (j % 5) for j in range(15)},
        }
        text = json.dumps(rec, sort_keys=True)
        back = json.loads(text)
        live[i % 500] = back
        if i % 100 == 0:
            tmp = [str(x) * (x % 7) for x in range(5000)]
            tmp.sort()
            digest.update(tmp[len(tmp) // 2].encode())
        digest.update(text[-32:].encode())
    tags = sum(len(v["tags"]) for v in live.values())
    print("digest", digest.hexdigest()[:16], "live", len(live), "tags", tags)


if __name__ == "__main__":
    main()
