#!/usr/bin/env python3
"""Drill 7 — schemathesis against /api/openapi.json, once with an API token of each role.

Roles: the city and county organisation departments, a branch secretary, a member, and the
three administrators (system, security, audit). Checks: every check schemathesis has except
`positive_data_acceptance` — no 5xx, status codes, content types and bodies as documented,
schema-violating input refused, no operation that works without authentication, resources
available after creation, no use after deletion. `positive_data_acceptance` is left out on
purpose: the business rules (ID checksums, dates in order, Chinese names, rule-set limits) are
not expressible in JSON Schema, so a schema-valid body can rightly be refused with a
documented 422.

The operations that revoke the run's own token, disable its account or change its roles are
excluded (they would end the run); the authorisation matrix of the integration suite covers
them.

    python3 drills/schemathesis.py --max-time 120        # per role
"""
import base64
import os
import re
import subprocess
import sys
import time
import urllib.parse

from common import ROOT, Api, PASSWORD, Server, finish, log, make_token, parser, prepare, report, session, totp

VERSION = "4.32.5"
ROLES = ["city", "county", "secretary", "member", "admin", "security", "auditor"]
EXCLUDE = r"/revoke$|/disable$|/roles$"


def tool(args):
    if args.st:
        return args.st
    venv = os.path.join(ROOT, "target", "schemathesis-venv")
    exe = os.path.join(venv, "bin", "schemathesis")
    if not os.path.exists(exe):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", f"schemathesis=={VERSION}"], check=True)
    return exe


def admin_token(server):
    """The system administrator's first sign-in: the one-time password from the log replaced,
    the second factor enrolled (administrators need one), then a token — all by the API."""
    with open(server.logpath, encoding="utf-8", errors="replace") as f:
        m = re.findall(r"admin\s+一次性密码 / one-time password:\s+(\S+)", f.read())
    if not m:
        raise SystemExit("no one-time password in the server log")
    sess = session(server.port, "admin", m[-1])
    s, body = Api(server.port, sess).call("POST", "/api/v1/auth/password",
                                          {"old_password": m[-1], "new_password": PASSWORD})
    if s != 200:
        raise SystemExit(f"admin password change: {s} {body}")
    api = Api(server.port, body["session"])
    s, enrol = api.call("POST", "/api/v1/auth/totp/enrol", {})
    secret = base64.b32decode(enrol["secret"] + "=" * (-len(enrol["secret"]) % 8))
    s, b = api.call("POST", "/api/v1/auth/totp/confirm", {"code": totp(secret)})
    if s != 204:
        raise SystemExit(f"admin second factor: {s} {b}")
    s, body = api.call("POST", "/api/v1/tokens", {"name": "schemathesis"})
    return body["secret"]


def main():
    p = parser(__doc__)
    p.add_argument("--max-time", type=int, default=120, help="seconds per role")
    p.add_argument("--roles", default=",".join(ROLES))
    p.add_argument("--st", help="the schemathesis command (default: a pinned one in target/)")
    args = p.parse_args()
    st = tool(args)
    binpath, workdir, db = prepare(args, "schemathesis")
    server = Server(binpath, db).start()
    lines, failed = [], []
    for role in args.roles.split(","):
        token = admin_token(server) if role == "admin" else make_token(server.port, role)
        out = os.path.join(workdir, f"schemathesis-{role}.log")
        t = time.time()
        r = subprocess.run(
            [st, "run", f"http://127.0.0.1:{server.port}/api/openapi.json",
             "-H", f"Authorization: Bearer {token}",
             "--checks", "all", "--exclude-checks", "positive_data_acceptance",
             "--exclude-path-regex", EXCLUDE,
             "--phases", "examples,coverage,fuzzing", "--max-time", str(args.max_time),
             # one worker: with more, hypothesis's lambda introspection has been seen to crash
             # inside schemathesis itself (an AST recursion-depth error, not an API failure)
             "--workers", "1", "--continue-on-failure", "--seed", "20261123"],
            capture_output=True, text=True)
        with open(out, "w") as f:
            f.write(r.stdout + r.stderr)
        summary = re.findall(r"(\d+) generated, .*", r.stdout)
        tail = [ln for ln in r.stdout.splitlines() if re.search(r"generated|passed|failures?,|ST\d{3}", ln)]
        generated = summary[-1] if summary else "?"
        if server.proc.poll() is not None:
            failed.append(f"{role}: the server died")
        if r.returncode != 0:
            failed.append(f"{role}: " + "; ".join(ln.strip() for ln in tail[-6:]))
            log(f"{role}: FAIL — see {out}")
        lines.append(f"{role}: {generated} test cases in {time.time() - t:.0f} s — "
                     + ("all checks passed" if r.returncode == 0 else "FAILED"))
        log(lines[-1])
    server.stop()
    ok = not failed
    report("schemathesis", args, ok, lines + ([] if ok else failed))
    finish(args, db, workdir, ok)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
