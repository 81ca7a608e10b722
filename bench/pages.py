"""One client, page by page: the pages of a day's mix (bench/run.py), each requested n times
after 3 warm-up requests by the demo account that opens it, the server pinned to core 0.
Prints each page's p50 and minimum.

    python3 bench/pages.py BIN DATABASE_URL [n]     # e.g. target/release/dangjian sqlite:///path/bench.db
"""
import datetime
import os
import statistics
import sys
import tempfile
import time
import types

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "drills"))
from common import Api, Server  # noqa: E402


def pin(core):
    try:
        os.sched_setaffinity(0, {core})
    except (AttributeError, OSError):
        pass


def main():
    binp, url = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    db = types.SimpleNamespace(url=url, workdir=tempfile.mkdtemp(prefix="dj-pages-"))
    srv = Server(os.path.abspath(binp), db, preexec=lambda: pin(0)).start(wait=120)
    pin(1)
    try:
        s = {u: Api(srv.port, timeout=300).login(u) for u in ("city", "county", "secretary", "member")}
        me = s["member"].call("GET", "/api/v1/me")[1]
        branch = s["secretary"].call("GET", "/api/v1/me")[1]["org_id"]
        county = s["county"].call("GET", "/api/v1/me")[1]["org_id"]
        today = datetime.date.today()
        month = f"{today.year}-{today.month:02d}"
        pages = [
            ("member: home", "member", "/"),
            ("member: my points", "member", "/points/me"),
            ("member: my record", "member", f"/members/{me['member_id']}"),
            ("member: notices", "member", "/notices"),
            ("secretary: home", "secretary", "/"),
            ("secretary: branch members", "secretary", f"/members?org_id={branch}"),
            ("secretary: a member", "secretary", f"/api/v1/members?org_id={branch}&per_page=5"),
            ("secretary: branch points", "secretary", f"/points?org_id={branch}&month={month}"),
            ("secretary: recruitment", "secretary", "/recruits"),
            ("county: members", "county", f"/members?org_id={county}"),
            ("county: pinyin search", "county", f"/members?org_id={county}&q=wangj"),
            ("county: tree", "county", f"/orgs/{county}/children"),
            ("county: home", "county", "/"),
            ("county: recruitment board", "county", "/api/v1/recruits/board"),
            ("city: home", "city", "/"),
            ("city: members", "city", "/members"),
        ]
        for label, user, path in pages:
            c = s[user]
            for _ in range(3):
                c.raw("GET", path)
            times = []
            for _ in range(n):
                t = time.perf_counter()
                status, _, _ = c.raw("GET", path)
                times.append((time.perf_counter() - t) * 1000)
                if status != 200:
                    raise SystemExit(f"{path}: {status}")
            print(f"{label:28s} p50 {statistics.median(times):6.2f} ms  min {min(times):6.2f} ms")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
