#!/usr/bin/env python3
"""Drill 6 — soak at mixed load.

For `--minutes` (10 by default) accounts of the city, a county and a branch read pages and API
lists as a working day does, while writers create members, award points and enter review scores.
Throughout:

- no response is a 5xx;
- the server's memory stays flat (resident size sampled every 5 s; the last third of the run
  may not exceed the second third by more than 20 % + 16 MB);
- every 30 s the invariants hold: the audit sequence is contiguous and ends at its head, and
  it grew by exactly the number of mutating 2xx responses; every love-bank balance equals the
  sum of its entries; every closed points month still holds the entries and total recorded at
  its close; every member belongs to exactly one branch; workflow states are legal (claims,
  ledger items, campaigns; scores only in meetings or closed campaigns);
- at the end every acknowledged write is stored with its audit entry, the database checks clean
  and `audit verify` passes.

    python3 drills/soak.py --db sqlite --minutes 10
"""
import threading
import time

from common import (Api, Server, Workload, Writers, stored_checks, finish, log, make_token, parser,
                    prepare, report)

INVARIANTS = [
    ("love-bank balances equal their entries",
     "SELECT COUNT(*) FROM love_cards c WHERE c.balance <> (SELECT COALESCE(SUM(e.points), 0) FROM love_entries e WHERE e.card_id = c.id)"),
    ("closed member months hold what was closed",
     "SELECT COUNT(*) FROM point_closes c WHERE c.scope = 'members' AND (c.entries, c.total) <> "
     "(SELECT COUNT(*), COALESCE(SUM(e.points), 0) FROM point_entries e WHERE e.subject = 'member' AND e.org_id = c.org_id AND e.month = c.month)"),
    ("every member in one branch",
     "SELECT COUNT(*) FROM members m JOIN orgs o ON o.id = m.org_id WHERE o.kind NOT IN ('branch', 'joint_branch', 'general_branch')"),
    ("claims only pending, approved or rejected",
     "SELECT COUNT(*) FROM point_claims WHERE status NOT IN ('pending', 'approved', 'rejected')"),
    ("an approved claim has exactly one entry, others none",
     "SELECT COUNT(*) FROM point_claims c WHERE (c.status = 'approved') <> EXISTS (SELECT 1 FROM point_entries e WHERE e.claim_id = c.id)"),
    ("ledger items only open, pending or closed",
     "SELECT COUNT(*) FROM rect_items WHERE status NOT IN ('open', 'pending', 'closed')"),
    ("campaigns only in reports, meeting or closed",
     "SELECT COUNT(*) FROM review_campaigns WHERE status NOT IN ('reports', 'meeting', 'closed')"),
    ("scores only in meetings and closed campaigns",
     "SELECT COUNT(*) FROM review_scores s JOIN review_campaigns c ON c.id = s.campaign_id WHERE c.status NOT IN ('meeting', 'closed')"),
]


def audit_state(db):
    """(rows, first seq, last seq, head seq), read in one statement: one snapshot while the
    server writes."""
    n, lo, hi, head = db.rows("SELECT COUNT(*), COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0), "
                              "(SELECT seq FROM audit_head) FROM audit_log")[0]
    return int(n), int(lo), int(hi), int(head)


def main():
    p = parser(__doc__)
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--readers", type=int, default=6)
    p.add_argument("--writers", type=int, default=2)
    args = p.parse_args()
    binpath, workdir, db = prepare(args, "soak")
    server = Server(binpath, db).start()
    tokens = {u: make_token(server.port, u) for u in ("city", "county", "secretary")}
    me = {u: Api(server.port, t).call("GET", "/api/v1/me")[1] for u, t in tokens.items()}
    work = Workload(db, server.port, tokens["city"])
    root, county, branch = me["city"]["org_id"], me["county"]["org_id"], me["secretary"]["org_id"]
    reads = {
        "city": ["/", "/api/v1/members?page=1", f"/api/v1/orgs/{root}/children", "/members?q=wang",
                 f"/api/v1/points/ranking?org_id={root}", "/rectify", "/reviews", "/api/v1/recruits/stats"],
        "county": ["/", "/members", "/api/v1/members?page=30", f"/api/v1/orgs/{county}/children", "/recruits",
                   f"/points/board?org_id={county}", "/api/v1/rectify/items"],
        "secretary": ["/", "/members", f"/api/v1/points/board?org_id={branch}", "/points", "/lovebank",
                      f"/api/v1/orgs/{branch}", "/recruits"],
    }
    stats_lock = threading.Lock()
    read_counts, errors = {}, []
    n0, _, _, _ = audit_state(db)
    m0 = work.mutations

    def reader_for(user):
        paths = reads[user]
        i = [0]

        def read(api):
            path = paths[i[0] % len(paths)]
            i[0] += 1
            s, _, body = api.raw("GET", path)
            with stats_lock:
                read_counts[s] = read_counts.get(s, 0) + 1
                if s is None or s >= 500:
                    errors.append(f"GET {path} as {user}: {s} {body[:160]!r}")
            return s
        return read

    rss, checks, problems = [], 0, []
    started = time.time()
    end = started + args.minutes * 60
    readers = [Writers(server.port, tokens[u], reader_for(u), n=max(1, args.readers // 3)) for u in reads]
    for r in readers:
        r.__enter__()
    with Writers(server.port, tokens["city"], work.any, n=args.writers):
        last_check = time.time()
        while time.time() < end:
            time.sleep(5)
            rss.append(server.rss_kb())
            if time.time() - last_check >= 30 or time.time() >= end:
                last_check = time.time()
                checks += 1
                for name, sql in INVARIANTS:
                    bad = db.scalar(sql)
                    if bad:
                        problems.append(f"{name}: {bad} violations at check {checks}")
                n, lo, hi, head = audit_state(db)
                if n != hi - lo + 1 or hi != head:
                    problems.append(f"audit sequence not contiguous: {n} rows from {lo} to {hi}, head {head}")
                log(f"{(time.time() - started) / 60:.1f} min: {sum(read_counts.values())} reads, "
                    f"{work.mutations - m0} writes, RSS {rss[-1] // 1024} MB, {len(problems) + len(errors)} problems")
                if problems:
                    break
    for r in readers:
        r.__exit__(None, None, None)
    time.sleep(0.5)
    n1, _, _, _ = audit_state(db)
    if n1 - n0 != work.mutations - m0:
        problems.append(f"the audit log grew by {n1 - n0} entries for {work.mutations - m0} mutating 2xx responses")
    fivexx = {s: c for s, c in work.counts.items() if s is None or s >= 500}
    if fivexx:
        problems.append(f"writes answered {fivexx}")
    problems += errors[:20]
    problems += work.check()
    code = server.term()
    if code != 0:
        problems.append(f"exit status {code}")
    problems += stored_checks(binpath, db)
    third = max(1, len(rss) // 3)
    mid, last = max(rss[third:2 * third] or rss), max(rss[2 * third:] or rss)
    if last > mid * 1.2 + 16 * 1024:
        problems.append(f"memory grew: {mid // 1024} MB in the middle third, {last // 1024} MB in the last")
    ok = not problems
    elapsed = time.time() - started
    total_reads = sum(read_counts.values())
    report("soak", args, ok, [
        f"{elapsed / 60:.1f} min: {total_reads} reads ({total_reads / elapsed:.0f}/s), {work.mutations - m0} acknowledged writes "
        f"({(work.mutations - m0) / elapsed:.0f}/s); reads {dict(sorted((str(s), c) for s, c in read_counts.items()))}; "
        f"writes {dict(sorted((str(s), c) for s, c in work.counts.items()))}",
        f"server RSS: first sample {rss[0] // 1024} MB, max of the middle third {mid // 1024} MB, of the last third {last // 1024} MB",
        f"{checks} invariant checks ({len(INVARIANTS)} invariants + audit contiguity); audit grew by {n1 - n0} = mutating 2xx",
        "zero 5xx; every acknowledged write stored with its audit entry; integrity and audit verify clean"
        if ok else f"problems: {problems[:10]}",
    ])
    finish(args, db, workdir, ok)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
