#!/usr/bin/env python3
"""Drill 3 — SIGTERM under load.

Eight writers and two readers keep the server busy; the server gets SIGTERM. It must stop
accepting, let the requests in flight finish, close its database pool and exit with status 0
within the grace period. Every response a client got is whole (a 2xx/4xx with its body, or a
refused/cut connection with nothing acknowledged) — never a 5xx. Afterwards every acknowledged
write is stored with its audit entry, the database checks clean and `audit verify` passes.
Repeated `--rounds` times, restarting in between.

    python3 drills/sigterm.py --db sqlite --rounds 5
"""
import threading
import time

from common import (Api, Server, Workload, Writers, stored_checks, finish, log, make_token, parser,
                    prepare, report)

READS = ["/api/v1/members?page=1", "/api/v1/members?page=20", "/members", "/", "/api/v1/points/ranking"]


def main():
    p = parser(__doc__)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    binpath, workdir, db = prepare(args, "sigterm")
    server = Server(binpath, db).start()
    token = make_token(server.port, "city")
    work = Workload(db, server.port, token)
    problems, exits, stops = [], [], []
    reads = {}
    lock = threading.Lock()

    def reader(api):
        for path in READS:
            s, _, body = api.raw("GET", path)
            with lock:
                reads[s] = reads.get(s, 0) + 1
            if s is not None and s >= 500:
                problems.append(f"GET {path}: {s} {body[:200]!r}")
            if s is None:
                return None
        return 200

    for r in range(1, args.rounds + 1):
        with Writers(server.port, token, work.any, n=8), Writers(server.port, token, reader, n=2):
            time.sleep(3)
            t = time.time()
            try:
                code = server.term(timeout=30)
            except Exception:  # noqa: BLE001 - a hang is the failure being looked for
                problems.append(f"round {r}: the server did not exit within 30 s of SIGTERM")
                server.stop()
                code = None
            stops.append(time.time() - t)
            exits.append(code)
            if code != 0:
                problems.append(f"round {r}: exit status {code}")
        found = work.check() + stored_checks(binpath, db)
        problems += [f"round {r}: {f}" for f in found]
        server5xx = {s: n for s, n in work.counts.items() if s is not None and s >= 500}
        if server5xx:
            problems.append(f"round {r}: server errors {server5xx}")
        log(f"round {r}: exit {code} after {stops[-1]:.2f} s; {len(work.acked)} acknowledged writes; {len(problems)} problems")
        if problems:
            break
        server.start()
    server.stop()
    ok = not problems
    report("SIGTERM under load", args, ok, [
        f"{len(exits)} rounds; exit statuses {exits}; from SIGTERM to exit {min(stops):.2f}–{max(stops):.2f} s",
        f"writes: {len(work.acked)} acknowledged; responses {dict(sorted((str(s), n) for s, n in work.counts.items()))}; "
        f"reads {dict(sorted((str(s), n) for s, n in reads.items()))} (None = refused after the listener closed)",
        "no 5xx; every acknowledged write present with its audit entry; integrity and audit verify clean"
        if ok else f"problems: {problems[:10]}",
    ])
    finish(args, db, workdir, ok)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
