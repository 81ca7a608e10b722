"""Shared parts of the reliability drills: databases, the server process, an API client with a
token, and a workload of writes whose acknowledgements are recorded and checked afterwards.

Every drill runs against a fresh database (SQLite file or a new PostgreSQL database) loaded
with a small demo city, and removes it afterwards unless --keep is given.
"""
import argparse
import atexit
import datetime
import http.client
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "Dangjian@2026"
PG_BASE = os.environ.get("DANGJIAN_DRILL_PG", "postgres://postgres@127.0.0.1:5432/postgres")


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def parser(doc):
    p = argparse.ArgumentParser(description=doc)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--bin", help="the dangjian binary (default: cargo build, debug)")
    p.add_argument("--members", type=int, default=1500, help="demo city size")
    p.add_argument("--keep", action="store_true", help="keep the database and logs")
    return p


def binary(args):
    if args.bin:
        return os.path.abspath(args.bin)
    subprocess.run(["cargo", "build", "--quiet", "--bin", "dangjian"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "debug", "dangjian")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------------------------------------
# databases


class Database:
    """A fresh database of either backend, with direct SQL for the checks."""

    def __init__(self, kind, workdir, name="drill"):
        self.kind = kind
        self.workdir = workdir
        if kind == "sqlite":
            self.path = os.path.join(workdir, f"{name}.db")
            self.url = f"sqlite://{self.path}"
        else:
            self.name = f"dj_{name}_{os.getpid()}"
            base = urllib.parse.urlsplit(PG_BASE)
            self.admin = PG_BASE
            self.url = urllib.parse.urlunsplit(base._replace(path="/" + self.name))
            self.psql_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.psql_admin(f'CREATE DATABASE "{self.name}"')

    def psql_admin(self, sql):
        subprocess.run(["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", self.admin, "-c", sql],
                       check=True, capture_output=True)

    def rows(self, sql, params=()):
        """Rows of a read-only query (strings for PostgreSQL, native values for SQLite)."""
        if self.kind == "sqlite":
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            try:
                return con.execute(sql, params).fetchall()
            finally:
                con.close()
        if params:
            raise ValueError("parameters are for SQLite only")
        out = subprocess.run(["psql", "-q", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", self.url, "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

    def scalar(self, sql):
        r = self.rows(sql)
        return int(r[0][0]) if r and r[0][0] not in (None, "") else 0

    def integrity(self):
        """SQLite's integrity_check, or amcheck over every table and index of PostgreSQL."""
        if self.kind == "sqlite":
            res = [r[0] for r in self.rows("PRAGMA integrity_check")]
            fk = self.rows("PRAGMA foreign_key_check")
            if res != ["ok"]:
                return f"integrity_check: {res[:5]}"
            if fk:
                return f"foreign_key_check: {fk[:5]}"
            return None
        try:
            subprocess.run(["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", self.url, "-c", "CREATE EXTENSION IF NOT EXISTS amcheck"],
                           check=True, capture_output=True)
            # bt_index_check raises on a corrupt index (psql then exits non-zero);
            # verify_heapam returns one row per problem in a table.
            checked = self.scalar(
                "SELECT count(bt_index_check(c.oid, true)) + count(*) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE a.amname = 'btree' AND n.nspname = 'public'")
            bad_heap = self.rows(
                "SELECT c.relname, v.msg FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
                "LATERAL verify_heapam(c.oid) v WHERE n.nspname = 'public' AND c.relkind = 'r'")
        except subprocess.CalledProcessError as e:
            return f"amcheck: {e.stderr.strip()[-300:] if e.stderr else e}"
        if bad_heap:
            return f"amcheck: {bad_heap[:5]}"
        if not checked:
            return "amcheck: no index checked"
        return None

    def drop(self):
        if self.kind == "postgres":
            self.psql_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def cli(binpath, db, *args, check=True, timeout=900, env=None):
    r = subprocess.run([binpath, "--database-url", db.url, *args], capture_output=True, text=True,
                       timeout=timeout, cwd=db.workdir, env={**os.environ, **(env or {})})
    if check and r.returncode != 0:
        raise SystemExit(f"dangjian {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def audit_verify(binpath, db, anchor=None):
    """None when the chain verifies, else what `dangjian audit verify` said. A restored copy is
    checked on its own (`anchor`: a file of its own): the live server's anchor has moved past
    the backup, which is what a restore loses, not tampering."""
    env = {"DANGJIAN_AUDIT_ANCHOR_FILE": anchor} if anchor else None
    r = cli(binpath, db, "audit", "verify", check=False, env=env)
    return None if r.returncode == 0 else (r.stdout + r.stderr).strip()[-400:]


def stored_checks(binpath, db, anchor=None):
    """What is wrong with a database no server is writing to: its integrity check (amcheck on
    PostgreSQL) and `dangjian audit verify`; empty when both are clean."""
    found = []
    bad = db.integrity()
    if bad:
        found.append(bad)
    bad = audit_verify(binpath, db, anchor)
    if bad:
        found.append(f"audit verify: {bad}")
    return found


# ---------------------------------------------------------------------------------------------
# the server


class Server:
    def __init__(self, binpath, db, port=None, env=None, preexec=None):
        self.binpath, self.db = binpath, db
        self.port = port or free_port()
        self.env = env or {}
        self.preexec = preexec
        self.proc = None
        self.logpath = os.path.join(db.workdir, "server.log")
        atexit.register(self.stop)  # never leave a server behind when a drill fails

    def start(self, wait=60):
        env = {**os.environ, "DANGJIAN_LOG": "warn", **self.env}
        logf = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [self.binpath, "--database-url", self.db.url, "serve", "--listen", f"127.0.0.1:{self.port}"],
            stdout=logf, stderr=logf, env=env, cwd=self.db.workdir, preexec_fn=self.preexec)
        logf.close()
        deadline = time.time() + wait
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited with {self.proc.returncode}; see {self.logpath}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise SystemExit("server did not come up")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def term(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def rss_kb(self, field="VmRSS"):
        """The server's resident memory now (`VmRSS`) or at its peak (`VmHWM`), in KiB."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:
            return 0
        return 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------------------------------------
# HTTP


class Api:
    """One keep-alive connection; Bearer token or session cookie."""

    def __init__(self, port, token=None, timeout=30):
        self.port, self.token, self.timeout = port, token, timeout
        self.cookie = ""
        self.conn = None

    def raw(self, method, path, body=None, headers=None):
        """(status, headers, bytes); status None when the connection failed (nothing known)."""
        h = dict(headers or {})
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if self.cookie:
            h["Cookie"] = self.cookie
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
            data = r.read()
            if r.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return r.status, r.getheaders(), data
        except (http.client.HTTPException, OSError):
            if self.conn:
                self.conn.close()
            self.conn = None
            return None, [], b""

    def call(self, method, path, payload=None, headers=None):
        h = dict(headers or {})
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            h["Content-Type"] = "application/json"
        s, _, data = self.raw(method, path, body, h)
        try:
            return s, json.loads(data) if data else None
        except ValueError:
            return s, None

    def login(self, user, password=PASSWORD):
        body = urllib.parse.urlencode({"username": user, "password": password})
        s, headers, _ = self.raw("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        for k, v in headers:
            if k.lower() == "set-cookie" and v.startswith("dj_session="):
                self.cookie = v.split(";")[0]
        if s != 303 or not self.cookie:
            raise SystemExit(f"login {user} failed: {s}")
        return self

    def csrf(self):
        # the home page, or the forced password change a first login is sent to
        for page in ("/", "/password"):
            _, _, html = self.raw("GET", page)
            m = re.search(rb'name="csrf-token" content="([^"]+)"', html)
            if m:
                return m.group(1).decode()
        raise SystemExit("no CSRF token on the home page")


# the demo's administrators sign in with a second factor (require_totp_for_admins)
ADMINS = ("security", "auditor")


def totp(secret, at=None):
    """RFC 6238: six digits of HMAC-SHA1 over the 30-second step."""
    import hmac
    import struct
    step = int((time.time() if at is None else at) // 30)
    d = hmac.new(secret, struct.pack(">Q", step), "sha1").digest()
    o = d[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", d[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def demo_totp_secret(user):
    """The demo administrators' TOTP secret (src/demo/mod.rs: demo_totp_secret)."""
    return hashlib.new("sm3", f"dangjian demo totp {user}".encode()).digest()[:20]


def session(port, user, password=PASSWORD, secret=None):
    """A session by the JSON sign-in (second factor included): the bearer value."""
    a = Api(port)
    s, body = a.call("POST", "/api/v1/auth/login", {"username": user, "password": password})
    if s != 200:
        raise SystemExit(f"sign-in {user}: {s} {body}")
    sess = body["session"]
    if body.get("totp_required"):
        s, b = Api(port, sess).call("POST", "/api/v1/auth/totp", {"code": totp(secret or demo_totp_secret(user))})
        if s != 204:
            raise SystemExit(f"second factor {user}: {s} {b}")
    return sess


def make_token(port, user, name="drill", password=PASSWORD):
    """Signs in as `user` and returns a new API token acting as that account."""
    sess = session(port, user, password)
    s, body = Api(port, sess).call("POST", "/api/v1/tokens", {"name": name})
    if s != 200:
        raise SystemExit(f"token for {user}: {s} {body}")
    return body["secret"]


# ---------------------------------------------------------------------------------------------
# the written workload


def id_number(region, birth, seq, male):
    """A GB 11643 citizen number with a valid check digit."""
    seq = seq % 500 * 2 + (1 if male else 0)
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(body, weights))
    return body + "10X98765432"[total % 11]


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["建国", "秀英", "伟", "芳", "海燕", "志强", "桂兰", "明", "丽娟", "国庆", "晓东", "红梅"]


class Workload:
    """Writes members, points events and scoring submissions; records every acknowledged one.

    Each acknowledgement is kept as (kind, key, detail). `check(db)` finds each in the database
    and checks that its audit entry was written in the same transaction.
    """

    def __init__(self, db, port, token, seed=7):
        self.db, self.port, self.token = db, port, token
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.acked = []       # (kind, key, detail)
        self.mutations = 0    # acknowledged mutating requests (one audit entry each)
        self.counts = {}      # status → count
        self.counter = 0
        self.canaries = []    # every ID number and phone sent, to look for in clear later
        today = datetime.date.today()
        self.today = today.isoformat()
        q = self.db.rows
        self.branches = [int(r[0]) for r in q("SELECT id FROM orgs WHERE kind = 'branch' AND dissolved_at IS NULL ORDER BY id LIMIT 200")]
        self.members = [int(r[0]) for r in q("SELECT id FROM members WHERE status IN ('full', 'probationary') ORDER BY id LIMIT 3000")]
        camp = q("SELECT id, scheme_id FROM review_campaigns WHERE status = 'meeting' ORDER BY id LIMIT 1")
        self.reporters, self.raters, self.answers = [], [], {}
        if camp:
            cid, scheme = int(camp[0][0]), int(camp[0][1])
            self.reporters = [int(r[0]) for r in q(f"SELECT id FROM review_reporters WHERE campaign_id = {cid}")]
            self.raters = [int(r[0]) for r in q(f"SELECT id FROM review_raters WHERE campaign_id = {cid}")]
            scheme = json.loads(q(f"SELECT scheme_json FROM review_schemes WHERE id = {scheme}")[0][0])
            self.indicators = [i["key"] for i in scheme["indicators"]]
            self.levels = [lv["key"] for lv in scheme["levels"]]
        self.point_indicators = ["M01", "M02", "M03", "M04", "M05", "M06"]

    def _next(self):
        with self.lock:
            self.counter += 1
            return self.counter

    def _record(self, status, kind=None, key=None, detail=None):
        with self.lock:
            self.counts[status] = self.counts.get(status, 0) + 1
            if status is not None and 200 <= status < 300 and kind:
                self.acked.append((kind, key, detail))
                self.mutations += 1

    def member(self, api):
        n = self._next()
        rng = random.Random(n * 7919 + 17)
        birth = datetime.date(1965, 1, 1) + datetime.timedelta(days=(os.getpid() * 13 + n) % 12000)
        male = rng.random() < 0.7
        body = {
            "org_id": rng.choice(self.branches),
            "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
            "ethnicity": "汉族",
            "id_number": id_number("370811", birth, n // 12000 + 300 + (n % 7) * 20, male),
            "phone": f"13{rng.randint(100000000, 999999999)}",
            "education": "大学本科",
            "work_unit": "演练单位",
            "join_date": "2015-07-01",
            "full_date": "2016-07-01",
            "status": "full",
        }
        with self.lock:
            self.canaries += [body["id_number"], body["phone"]]
        s, b = api.call("POST", "/api/v1/members", body)
        self._record(s, "member", b.get("id") if s == 200 and b else None, body["id_number"][-4:])
        return s

    def points(self, api):
        n = self._next()
        key = f"drill-{os.getpid()}-{n}"
        body = {"subject": "member", "member_id": self.rng.choice(self.members),
                "indicator": self.rng.choice(self.point_indicators), "note": "演练", "idempotency_key": key}
        s, b = api.call("POST", "/api/v1/points/awards", body)
        self._record(s, "points", key if s == 200 and b and b.get("entry") else None)
        return s

    def score(self, api):
        if not self.reporters:
            return self.member(api)
        rater, reporter = self.rng.choice(self.raters), self.rng.choice(self.reporters)
        answers = {k: self.rng.choice(self.levels) for k in self.indicators}
        body = {"rater_id": rater, "reporter_id": reporter, "answers": answers, "comment": ""}
        s, b = api.call("POST", f"/api/v1/reviews/reporters/{reporter}/scores", body)
        self._record(s, "score", (rater, reporter) if s == 200 and b else None,
                     (b.get("revisions"), b.get("total_tenths")) if s == 200 and b else None)
        return s

    def any(self, api):
        return self.rng.choice([self.member, self.points, self.score])(api)

    def check(self, db=None, upto=None):
        """Problems found: acknowledged writes missing, or present without their audit entry.

        `db` is another copy to look in (a restored backup); `upto` limits the check to the
        first acknowledgements (those before a backup began)."""
        problems = []
        rows = (db or self.db).rows
        with self.lock:
            acked = list(self.acked[:upto])
        members = [str(k) for kind, k, _ in acked if kind == "member" and k is not None]
        keys = [k for kind, k, _ in acked if kind == "points" and k]
        scores = {}
        for kind, k, d in acked:
            if kind == "score" and k:
                scores[k] = max(scores.get(k, (-1, 0)), d)
        for chunk in chunks(members, 400):
            found = {str(r[0]) for r in rows(f"SELECT id FROM members WHERE id IN ({','.join(chunk)})")}
            audited = {str(r[0]) for r in rows(
                f"SELECT object_id FROM audit_log WHERE object_type = 'member' AND action = 'member.create' AND object_id IN ({','.join(repr(c) for c in chunk)})")}
            problems += [f"member {m} acknowledged but missing" for m in chunk if m not in found]
            problems += [f"member {m} stored without its audit entry" for m in chunk if m in found and m not in audited]
        for chunk in chunks(keys, 400):
            found = {r[0]: str(r[1]) for r in rows(
                f"SELECT idempotency_key, id FROM point_entries WHERE idempotency_key IN ({','.join(repr(k) for k in chunk)})")}
            problems += [f"points {k} acknowledged but missing" for k in chunk if k not in found]
            ids = list(found.values())
            if ids:
                audited = {str(r[0]) for r in rows(
                    f"SELECT object_id FROM audit_log WHERE object_type = 'point_entry' AND object_id IN ({','.join(repr(i) for i in ids)})")}
                problems += [f"point entry {i} stored without its audit entry" for i in ids if i not in audited]
        for (rater, reporter), (revisions, total) in scores.items():
            r = rows(f"SELECT revisions FROM review_scores WHERE rater_id = {rater} AND reporter_id = {reporter}")
            if not r:
                problems.append(f"score {rater}/{reporter} acknowledged but missing")
            elif int(r[0][0]) < int(revisions):
                problems.append(f"score {rater}/{reporter}: revision {revisions} acknowledged, {r[0][0]} stored")
        return problems


def find_in_clear(canaries, paths):
    """(canary, path) for each personal number found in clear in one of the files."""
    found = []
    needles = {c.encode() for c in canaries}
    sizes = sorted({len(n) for n in needles})
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        # the numbers are runs of digits (an ID number may end in X): look only at such runs,
        # at every offset, instead of searching the whole file once per number
        for m in re.finditer(rb"[0-9]{11,}X?", data):
            run = m.group(0)
            for size in sizes:
                for i in range(len(run) - size + 1):
                    if run[i:i + size] in needles:
                        found.append((run[i:i + size].decode(), path))
    return found


def chunks(xs, n):
    for i in range(0, len(xs), n):
        yield xs[i:i + n]


class Writers:
    """`n` threads, each on its own connection, running `fn(api)` until stopped."""

    def __init__(self, port, token, fn, n=4):
        self.stop_flag = threading.Event()
        self.fn = fn
        self.threads = [threading.Thread(target=self._run, args=(Api(port, token, timeout=20),), daemon=True)
                        for _ in range(n)]

    def _run(self, api):
        while not self.stop_flag.is_set():
            s = self.fn(api)
            if s is None:
                time.sleep(0.05)  # the server is down: retry soon

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=60)


def prepare(args, name="drill"):
    """A work directory, a fresh database with a demo city, and the binary."""
    binpath = binary(args)
    workdir = tempfile.mkdtemp(prefix=f"dj-{name}-")
    db = Database(args.db, workdir, name)
    t = time.time()
    cli(binpath, db, "demo", "--members", str(args.members))
    log(f"{args.db}: demo city of {args.members} members in {time.time() - t:.0f} s ({workdir})")
    return binpath, workdir, db


def finish(args, db, workdir, ok):
    if not args.keep and ok:
        db.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    elif not ok:
        log(f"kept for inspection: {workdir}")


def report(name, args, ok, lines):
    print(f"\n## {name} ({args.db}): {'PASS' if ok else 'FAIL'}")
    for line in lines:
        print(f"- {line}")
    sys.stdout.flush()
