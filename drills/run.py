#!/usr/bin/env python3
"""Runs the reliability drills, on SQLite and PostgreSQL, and collects their reports.

    python3 drills/run.py            # the long drills: 100 kills, 10-minute soaks, ... (~50 min)
    python3 drills/run.py --quick    # a few minutes, in .ci/run: fewer kills and rounds, no soak
    python3 drills/run.py --only kill9,soak --db sqlite

Each drill is also a script of its own (see RELIABILITY.md). The collected report goes to
stdout and, unless --quick, to drills/results/<date>.md. Exit status 1 if any drill failed.
"""
import argparse
import datetime
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

FULL = {
    "kill9": ["--kills", "100"],
    "sigterm": ["--rounds", "5"],
    "backup": ["--rounds", "3"],
    "diskfull": [],
    "soak": ["--minutes", "10"],
    "schemathesis": ["--max-time", "120"],
    "starvation": ["--members", "300000", "--seconds", "15"],
    "signin": ["--seconds", "30"],
}
QUICK = {
    "kill9": ["--kills", "10"],
    "sigterm": ["--rounds", "2"],
    "backup": ["--rounds", "2"],
    "diskfull": [],
    "schemathesis": ["--max-time", "15"],
    "starvation": ["--members", "20000", "--seconds", "5"],
    "signin": ["--seconds", "10"],
}
SQLITE_ONLY = {"schemathesis", "signin"}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--bin", help="the dangjian binary (default: cargo build, debug)")
    p.add_argument("--db", default="sqlite,postgres")
    p.add_argument("--only", help="comma-separated drill names")
    args = p.parse_args()
    plan = QUICK if args.quick else FULL
    names = args.only.split(",") if args.only else list(plan)
    binpath = args.bin
    if not binpath:
        subprocess.run(["cargo", "build", "--quiet", "--bin", "dangjian"], cwd=ROOT, check=True)
        binpath = os.path.join(ROOT, "target", "debug", "dangjian")
    sections, failed = [], []
    for name in names:
        for db in args.db.split(","):
            if name in SQLITE_ONLY and db != "sqlite":
                continue
            cmd = [sys.executable, os.path.join(HERE, f"{name}.py"), "--db", db, "--bin", binpath, *plan.get(name, [])]
            t = time.time()
            print(f"==== {name} ({db}) ====", flush=True)
            r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            out = r.stdout + r.stderr
            print(out[-3000:], flush=True)
            found = re.findall(r"^## .*?(?=^## |\Z)", r.stdout, flags=re.S | re.M)
            body = found[-1].strip() if found else f"## {name} ({db}): no report\n```\n{out[-1500:]}\n```"
            sections.append(f"{body}\n- command: `python3 drills/{name}.py --db {db} {' '.join(plan.get(name, []))}`"
                            f" — {time.time() - t:.0f} s")
            if r.returncode != 0:
                failed.append(f"{name} ({db})")
    head = (f"# Drill results {datetime.date.today()} ({'quick' if args.quick else 'full'}) — "
            + ("all passed" if not failed else f"FAILED: {', '.join(failed)}"))
    report = head + "\n\n" + "\n\n".join(sections) + "\n"
    print(report)
    if not args.quick:
        os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
        with open(os.path.join(HERE, "results", f"{datetime.date.today()}.md"), "w") as f:
            f.write(report)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
