#!/usr/bin/env python3
"""Sign-in memory drill: 32 connections signing in without pause for S seconds.

Each sign-in checks an argon2id hash (19 MiB of working memory at the parameters 等保 asks
for). Hashing runs under a permit count (about the cores) with working memories taken from a
small pool and given back, so the server's resident set must stay under 200 MB during the
load and after it; sign-ins that find no permit in time are told to come back (503 with
Retry-After), never a server error.

    python3 drills/signin.py --db sqlite [--seconds 30]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PASSWORD, Server, finish, parser, prepare, report  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT_MB = 200


def main():
    p = parser(__doc__)
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--connections", type=int, default=32)
    args = p.parse_args()
    binpath, workdir, db = prepare(args, "signin")
    lines, ok = [], True
    try:
        srv = Server(binpath, db).start()
        subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path",
                        os.path.join(ROOT, "bench", "loadgen", "Cargo.toml"),
                        "--target-dir", os.path.join(ROOT, "target")], check=True)
        lg = os.path.join(ROOT, "target", "release", "dangjian-loadgen")
        body = urllib.parse.urlencode({"username": "member", "password": PASSWORD})
        fd, plan = tempfile.mkstemp(suffix=".tsv")
        with os.fdopen(fd, "w") as f:
            f.write("\t".join(["sign-in", "1", "POST", "/login", body,
                               "Content-Type: application/x-www-form-urlencoded"]) + "\n")
        idle = srv.rss_kb() // 1024
        samples = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                samples.append(srv.rss_kb() // 1024)
                time.sleep(0.25)
        t = threading.Thread(target=sample, daemon=True)
        t.start()
        cmd = (["taskset", "-c", "1"] if shutil.which("taskset") else []) + [
            lg, "--addr", f"127.0.0.1:{srv.port}", "--plan", plan, "--connections", str(args.connections),
            "--duration", str(args.seconds), "--warmup", "0"]
        import json
        r = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        stop.set()
        t.join()
        time.sleep(2)
        after = srv.rss_kb() // 1024
        peak = max(samples + [srv.rss_kb("VmHWM") // 1024])
        a = r["all"]
        lines.append(f"{args.connections} connections signing in for {args.seconds} s: {a['rps']:.1f} sign-ins/s, "
                     f"p50 {a['p50_ms']:.0f} ms, p99 {a['p99_ms']:.0f} ms, answers {r['status']}, transport errors {r['errors']}")
        lines.append(f"server RSS idle {idle} MB, peak during the load {peak} MB, 2 s after {after} MB (limit {LIMIT_MB} MB)")
        if peak >= LIMIT_MB or after >= LIMIT_MB:
            ok = False
            lines.append("problem: the resident set passed the limit")
        if any(k.startswith("5") and k != "503" for k in r["status"]) or r["errors"]:
            ok = False
            lines.append("problem: server errors or dropped connections")
        if not r["status"].get("303"):
            ok = False
            lines.append("problem: no sign-in succeeded")
        os.remove(plan)
        srv.stop()
    except SystemExit as e:
        ok = False
        lines.append(f"problem: {e}")
    report("sign-in memory", args, ok, lines)
    finish(args, db, workdir, ok)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
