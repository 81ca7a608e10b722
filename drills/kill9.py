#!/usr/bin/env python3
"""Drill 1 — kill -9 loop.

Writers create members, award points and enter review scores through the API and record every
write that was acknowledged (2xx). The server is killed with SIGKILL at random moments and
restarted, `--kills` times. After each kill, before the restart:

- every acknowledged write is in the database, each with its audit entry (the same
  transaction, so neither half exists alone);
- SQLite `PRAGMA integrity_check` and `foreign_key_check` (PostgreSQL: amcheck over every
  index and table) are clean;
- `dangjian audit verify` passes.

    python3 drills/kill9.py --db sqlite --kills 100
    python3 drills/kill9.py --db postgres --kills 100
"""
import random
import time

from common import (Server, Workload, Writers, stored_checks, finish, log, make_token, parser,
                    prepare, report)


def main():
    p = parser(__doc__)
    p.add_argument("--kills", type=int, default=100)
    p.add_argument("--writers", type=int, default=4)
    args = p.parse_args()
    binpath, workdir, db = prepare(args, "kill9")
    server = Server(binpath, db).start()
    token = make_token(server.port, "city")
    work = Workload(db, server.port, token)
    rng = random.Random(11)
    problems, started = [], time.time()
    with Writers(server.port, token, work.any, n=args.writers):
        for k in range(1, args.kills + 1):
            time.sleep(rng.uniform(0.1, 1.2))
            server.kill9()
            found = work.check() + stored_checks(binpath, db)
            if found:
                problems += [f"after kill {k}: {f}" for f in found]
                log(f"kill {k}: {len(found)} problems, first: {found[0]}")
                break
            if k % 10 == 0 or k == args.kills:
                log(f"kill {k}: {len(work.acked)} acknowledged writes so far, all present")
            server.start()
    server.stop()
    ok = not problems
    by_kind = {}
    for kind, _, _ in work.acked:
        by_kind[kind] = by_kind.get(kind, 0) + 1
    report("kill -9 loop", args, ok, [
        f"{k if ok else k - 1} kills in {time.time() - started:.0f} s; acknowledged writes: "
        + ", ".join(f"{v} {n}" for n, v in sorted(by_kind.items())),
        f"responses: {dict(sorted((str(s), n) for s, n in work.counts.items()))} (None = connection cut by the kill)",
        "every acknowledged write present with its audit entry; integrity check clean; audit verify passed after every kill"
        if ok else f"{len(problems)} problems: {problems[:10]}",
    ])
    finish(args, db, workdir, ok)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
