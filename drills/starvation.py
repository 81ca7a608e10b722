#!/usr/bin/env python3
"""Starvation drill: 16 clients on the heaviest reports while 32 run the day's mix.

The day's mix (the pages of bench/run.py's mix, four roles) runs alone on 32 connections
for D seconds; then again while 16 more connections ask for the city's heavy reports
(recruitment statistics, the points board and the year's ranking, the warnings, the ledger's
bulletin) without pause. Passes when the mix keeps its p99 within 2× of its solo figure and
not one of its answers is a 5xx; the heavy clients may be told to come back (503 with
Retry-After) — that is the design — but never wait past the deadline.

    python3 drills/starvation.py --db sqlite [--members 20000] [--seconds 10] [--reuse FILE]

With --reuse a SQLite file of a generated city (and its .key beside it) is copied and used
instead of generating one (e.g. the 300,000-member city of BENCHMARKS.md).
"""
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Api, Database, Server, binary, finish, parser, prepare, report  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def loadgen():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path",
                    os.path.join(ROOT, "bench", "loadgen", "Cargo.toml"),
                    "--target-dir", os.path.join(ROOT, "target")], check=True)
    return os.path.join(ROOT, "target", "release", "dangjian-loadgen")


def plan_file(lines):
    fd, path = tempfile.mkstemp(suffix=".tsv")
    with os.fdopen(fd, "w") as f:
        for label, weight, path_, cookie in lines:
            f.write("\t".join([label, str(weight), "GET", path_, "-", f"Cookie: {cookie}"]) + "\n")
    return path


def start_load(lg, port, plan, conns, seconds):
    cmd = (["taskset", "-c", "1"] if shutil.which("taskset") else []) + [
        lg, "--addr", f"127.0.0.1:{port}", "--plan", plan, "--connections", str(conns),
        "--duration", str(seconds), "--warmup", "1"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def result(proc):
    out, _ = proc.communicate()
    return json.loads(out)


def bad(r):
    return sum(v for k, v in r["status"].items() if not k.startswith("2")) + r["errors"]


def fivexx(r):
    return sum(v for k, v in r["status"].items() if k.startswith("5")) + r["errors"]


def main():
    p = parser(__doc__)
    p.set_defaults(members=20000)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--reuse", help="a generated SQLite city to copy (with its .key beside it)")
    args = p.parse_args()
    if args.reuse:
        binpath = binary(args)
        workdir = tempfile.mkdtemp(prefix="dj-starvation-")
        db = Database("sqlite", workdir, "starvation")
        target = db.url.split("://", 1)[1]
        shutil.copy(args.reuse, target)
        shutil.copy(args.reuse + ".key", target + ".key")
    else:
        binpath, workdir, db = prepare(args, "starvation")
    lines, ok = [], True
    try:
        srv = Server(binpath, db).start(wait=600)
        lg = loadgen()
        users = {u: Api(srv.port, timeout=120).login(u) for u in ("city", "county", "secretary", "member")}
        me = users["member"].call("GET", "/api/v1/me")[1]
        branch = users["secretary"].call("GET", "/api/v1/me")[1]["org_id"]
        county = users["county"].call("GET", "/api/v1/me")[1]["org_id"]
        city = users["city"].call("GET", "/api/v1/me")[1]["org_id"]
        today = datetime.date.today()
        month = f"{today.year}-{today.month:02d}"
        quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
        c = {u: a.cookie for u, a in users.items()}
        mix = [
            ("member: home", 10, "/", c["member"]),
            ("member: my points", 12, "/points/me", c["member"]),
            ("member: my record", 6, f"/members/{me['member_id']}", c["member"]),
            ("member: notices", 4, "/notices", c["member"]),
            ("secretary: home", 6, "/", c["secretary"]),
            ("secretary: branch members", 8, f"/members?org_id={branch}", c["secretary"]),
            ("secretary: a member", 6, f"/api/v1/members?org_id={branch}&per_page=5", c["secretary"]),
            ("secretary: branch points", 8, f"/points?org_id={branch}&month={month}", c["secretary"]),
            ("secretary: recruitment", 4, "/recruits", c["secretary"]),
            ("county: members", 8, f"/members?org_id={county}", c["county"]),
            ("county: tree", 6, f"/orgs/{county}/children", c["county"]),
            ("county: home", 3, "/", c["county"]),
            ("county: recruitment board", 3, "/api/v1/recruits/board", c["county"]),
            ("city: home", 2, "/", c["city"]),
            ("city: members", 2, "/members", c["city"]),
        ]
        heavy = [
            ("recruitment statistics", 1, f"/recruits/stats?org_id={city}&year={today.year}", c["city"]),
            ("points board", 1, f"/points/board?org_id={city}&quarter={quarter}", c["city"]),
            ("year's ranking", 1, f"/api/v1/points/ranking?org_id={city}&year={today.year}", c["city"]),
            ("month's ranking", 1, f"/points/ranking?org_id={city}&month={month}", c["city"]),
            ("warnings", 1, f"/orgs/warnings?org_id={city}", c["city"]),
            ("ledger bulletin", 1, f"/rectify/bulletin?org_id={city}&month={month}", c["city"]),
        ]
        mix_plan, heavy_plan = plan_file(mix), plan_file(heavy)
        # the heavy reports alone, one client, to know what each costs
        solo_heavy = {}
        for label, _, path, cookie in heavy:
            a = users["city"]
            a.raw("GET", path)
            t = time.perf_counter()
            s, _, _ = a.raw("GET", path)
            solo_heavy[label] = ((time.perf_counter() - t) * 1000, s)
        lines.append("heavy reports alone, one client: " + ", ".join(f"{k} {v[0]:.0f} ms ({v[1]})" for k, v in solo_heavy.items()))
        solo = result(start_load(lg, srv.port, mix_plan, 32, args.seconds))
        sa = solo["all"]
        lines.append(f"the day's mix alone, 32 connections: {sa['rps']:.0f}/s, p50 {sa['p50_ms']:.1f} ms, p99 {sa['p99_ms']:.1f} ms, not 2xx: {bad(solo)}")
        h = start_load(lg, srv.port, heavy_plan, 16, args.seconds + 2)
        time.sleep(1)
        both = result(start_load(lg, srv.port, mix_plan, 32, args.seconds))
        hr = result(h)
        ba, ha = both["all"], hr["all"]
        lines.append(f"with 16 connections on the heavy reports: the mix {ba['rps']:.0f}/s, p50 {ba['p50_ms']:.1f} ms, "
                     f"p99 {ba['p99_ms']:.1f} ms ({ba['p99_ms'] / max(sa['p99_ms'], 0.001):.2f}× alone), 5xx: {fivexx(both)}")
        lines.append(f"the heavy reports meanwhile: {ha['rps']:.1f}/s, p50 {ha['p50_ms']:.0f} ms, p99 {ha['p99_ms']:.0f} ms, max {ha['max_ms']:.0f} ms, "
                     f"answers {hr['status']} (503 = told to come back)")
        if fivexx(both) > 0:
            ok = False
            lines.append("problem: the day's mix got server errors")
        if ba["p99_ms"] > 2 * max(sa["p99_ms"], 1.0):
            ok = False
            lines.append(f"problem: the mix's p99 grew past 2× ({ba['p99_ms']:.1f} against {sa['p99_ms']:.1f} ms)")
        if ha["max_ms"] > 9000:
            ok = False
            lines.append("problem: a heavy request waited past the read deadline")
        if any(not k.startswith(("2", "503")) for k in hr["status"]) or hr["errors"]:
            ok = False
            lines.append(f"problem: heavy answers other than 200 and 503: {hr['status']}, errors {hr['errors']}")
        lines.append(f"server RSS {srv.rss_kb() // 1024} MB, peak {srv.rss_kb('VmHWM') // 1024} MB")
        os.remove(mix_plan)
        os.remove(heavy_plan)
        srv.stop()
    except SystemExit as e:
        ok = False
        lines.append(f"problem: {e}")
    report("starvation", args, ok, lines)
    finish(args, db, workdir, ok)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
