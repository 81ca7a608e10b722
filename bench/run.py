#!/usr/bin/env python3
"""dangjian benchmark runner.

Generates a demo city with `dangjian demo` (SQLite and/or PostgreSQL), starts the server on
loopback pinned to core 0, drives it from core 1 — one client for latency, the load generator
in `bench/loadgen` (32 keep-alive connections) for throughput — and measures each endpoint next
to the same SQL run directly against the database in the same run (the baseline), so every
figure also comes as a ratio: the overhead dangjian adds.

    python3 bench/run.py                          # city scale, 300,000 members, SQLite and PostgreSQL
    python3 bench/run.py --backend sqlite         # one backend
    python3 bench/run.py --members 3000000 --backend postgres   # province scale
    python3 bench/run.py --quick                  # smoke run: 3,000 members, short phases
    python3 bench/run.py --reuse DIR              # measure again on the data of an earlier run
    python3 bench/run.py --bin PATH               # this dangjian binary as it is (no release build)

Results: Markdown tables on stdout and, unless --quick, in bench/results/<date>-<backend>-<members>.md.
"""
import argparse
import csv
import io
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import zipfile
from datetime import date, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "drills"))
from common import Api, Server, id_number, make_token  # noqa: E402  (one HTTP client for drills and benchmarks)

PG_BASE = os.environ.get("DANGJIAN_BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def pin(core):
    try:
        os.sched_setaffinity(0, {core})
    except (AttributeError, OSError):
        pass


def percentile(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def measure(fn, n, warm=2):
    for _ in range(warm):
        fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return times


# ---------------------------------------------------------------------------------------------
# the database, directly


class Store:
    """The benchmark's database: a SQLite file or a PostgreSQL database, with raw SQL timing."""

    def __init__(self, backend, work, members):
        self.backend, self.work, self.workdir = backend, work, work
        if backend == "sqlite":
            self.path = os.path.join(work, "bench.db")
            self.url = f"sqlite://{self.path}"
            self.con = None
        else:
            self.name = f"dj_bench_{members}"
            self.url = f"{PG_BASE}/{self.name}"

    def exists(self):
        if self.backend == "sqlite":
            return os.path.exists(self.path)
        r = subprocess.run(["psql", "-X", "-At", f"{PG_BASE}/postgres", "-c",
                            f"SELECT 1 FROM pg_database WHERE datname = '{self.name}'"],
                           capture_output=True, text=True)
        return r.stdout.strip() == "1"

    def create(self):
        if self.backend == "sqlite":
            for ext in ("", "-wal", "-shm", ".key"):
                if os.path.exists(self.path + ext):
                    os.remove(self.path + ext)
            return
        for sql in (f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', f'CREATE DATABASE "{self.name}"'):
            subprocess.run(["psql", "-q", "-X", "-v", "ON_ERROR_STOP=1", f"{PG_BASE}/postgres", "-c", sql],
                           check=True, capture_output=True)

    def drop(self):
        subprocess.run(["psql", "-q", "-X", f"{PG_BASE}/postgres", "-c", f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'],
                       capture_output=True)

    def ro(self):
        """A read-only connection to the SQLite file, kept."""
        if self.con is None:
            self.con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        return self.con

    def rows(self, sql):
        if self.backend == "sqlite":
            return self.ro().execute(sql).fetchall()
        out = subprocess.run(["psql", "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", self.url, "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

    def scalar(self, sql):
        r = self.rows(sql)
        return int(r[0][0]) if r and r[0][0] not in (None, "") else 0

    def time(self, queries, n, warm=2):
        """Milliseconds per run of `queries` (one after the other, results fetched), n runs.

        SQLite: Python's sqlite3 on a read-only connection to the same file. PostgreSQL: one psql
        session, `\\timing` per statement, results discarded — the round trip through a client
        library, as the server has it."""
        if self.backend == "sqlite":
            def run():
                for q in queries:
                    self.ro().execute(q).fetchall()
            return measure(run, n, warm)
        script = "\\timing on\n\\o /dev/null\n" + "".join(q + ";\n" for q in queries) * (n + warm)
        out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.url], input=script,
                             capture_output=True, text=True, check=True).stdout
        times = [float(line.split()[1]) for line in out.splitlines() if line.startswith("Time:")]
        k = len(queries)
        per_run = [sum(times[i:i + k]) for i in range(0, len(times), k)]
        return per_run[warm:]


def lit(s):
    return "'" + str(s).replace("'", "''") + "'"


def path_upper(p):
    return p[:-1] + "0" if p.endswith("/") else p + "\x7f"


# ---------------------------------------------------------------------------------------------
# the server


def start_server(a, store, port):
    """`dangjian serve` on the store's database, pinned to core 0 (the drills' server)."""
    return Server(a.bin, store, port, preexec=lambda: pin(0)).start(wait=120)


def login(port, user, n=1):
    return [Api(port, timeout=300).login(user) for _ in range(n)]


def ok_json(api, path):
    s, b = api.call("GET", path)
    if s != 200:
        raise SystemExit(f"GET {path}: {s} {b}")
    return b


# ---------------------------------------------------------------------------------------------
# the load generator


def build_loadgen():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path",
                    os.path.join(ROOT, "bench", "loadgen", "Cargo.toml"),
                    "--target-dir", os.path.join(ROOT, "target")], check=True)
    return os.path.join(ROOT, "target", "release", "dangjian-loadgen")


def load(a, port, plan, connections=None, duration=None, warmup=None, once=False):
    """Runs the load generator (pinned to core 1) on `plan`: [(label, weight, method, path, body, headers)]."""
    fd, path = tempfile.mkstemp(suffix=".tsv")
    with os.fdopen(fd, "w") as f:
        for label, weight, method, p, body, headers in plan:
            f.write("\t".join([label, str(weight), method, p, body or "-", *headers]) + "\n")
    cmd = ["taskset", "-c", "1"] if shutil.which("taskset") else []
    cmd += [a.loadgen, "--addr", f"127.0.0.1:{port}", "--plan", path,
            "--connections", str(connections or a.connections),
            "--duration", str(duration or a.duration), "--warmup", str(a.warmup if warmup is None else warmup)]
    if once:
        cmd.append("--once")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    os.remove(path)
    return json.loads(out)


def cookie(api):
    return f"Cookie: {api.cookie}"


# ---------------------------------------------------------------------------------------------
# data for imports


def xlsx(rows):
    """A minimal xlsx workbook (inline strings), as a spreadsheet program would save it."""
    def cell(ref, v):
        v = str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'<c r="{ref}" t="inlineStr"><is><t>{v}</t></is></c>'

    def col(i):
        s = ""
        i += 1
        while i:
            i, r = divmod(i - 1, 26)
            s = chr(65 + r) + s
        return s
    sheet = io.StringIO()
    sheet.write('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
    for r, row in enumerate(rows, 1):
        sheet.write(f'<row r="{r}">' + "".join(cell(f"{col(c)}{r}", v) for c, v in enumerate(row)) + "</row>")
    sheet.write("</sheetData></worksheet>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
                   '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
        z.writestr("_rels/.rels",
                   '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml",
                   '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                   'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="党员" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels",
                   '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", sheet.getvalue())
    return buf.getvalue()


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "建国秀英伟芳海燕志强桂兰明丽娟国庆晓东红梅春生淑珍玉兰德胜文华永刚凤英光明宏伟金凤俊杰雪梅"
# Henan's prefecture-level cities (GB/T 2260): imported people come from the other province of
# the seeds, so their numbers never collide with the demo city's (Jining, 3708xx)
# (not the demo's own 410402, 410421, 411082)
REGIONS = ["410102", "410202", "410302", "410502", "410602", "410702", "410802", "410902", "411002",
           "411102", "411202", "411302", "411402", "411502", "411602", "411702"]


def member_rows(n, branches, seed, first=0):
    """Import rows: a header and n members with valid, distinct ID numbers."""
    rng = random.Random(seed)
    head = ["姓名", "性别", "民族", "身份证号码", "手机号码", "学历", "工作单位", "所在党支部", "入党日期", "转正日期", "党员状态", "网格角色", "流入地"]
    rows = [head]
    born0 = date(1960, 1, 1)
    for i in range(first, first + n):
        # distinct: (region, birth day, sequence) is unique for i < 17 × 12,000 × 500
        region = REGIONS[i % len(REGIONS)]
        birth = born0 + timedelta(days=(i // len(REGIONS)) % 12000)
        seq = i // (len(REGIONS) * 12000)
        male = rng.random() < 0.7
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        joined = date(max(birth.year + 19, 1985) + rng.randrange(0, 15), rng.randrange(1, 13), rng.randrange(1, 28))
        if joined >= date.today() - timedelta(days=400):
            joined = date.today() - timedelta(days=400 + rng.randrange(0, 300))
        full = joined + timedelta(days=366 + rng.randrange(0, 30))
        rows.append([name, "男" if male else "女", "汉族", id_number(region, birth, seq, male),
                     f"13{rng.randrange(100000000, 999999999)}", rng.choice(["大学本科", "大学专科", "高中", "研究生"]),
                     "某某公司", rng.choice(branches), joined.isoformat(), full.isoformat(), "正式党员", "", ""])
    return rows


def member_body(r, org_id):
    """The API's member creation body for an import row of `member_rows`."""
    return {"org_id": org_id, "name": r[0], "gender": "M" if r[1] == "男" else "F", "ethnicity": r[2],
            "id_number": r[3], "phone": r[4], "education": r[5], "work_unit": r[6], "join_date": r[8],
            "full_date": r[9], "status": "full"}


# ---------------------------------------------------------------------------------------------
# one backend


def run_backend(a, backend, work):
    store = Store(backend, work, a.members)
    out = {"backend": backend, "rows": [], "load": [], "notes": []}
    row = lambda *r: out["rows"].append(r)  # noqa: E731
    scale = f"{a.members:,} members"
    if a.reuse and store.exists():
        log(f"{backend}: reusing {store.url}")
    else:
        store.create()
        log(f"{backend}: generating {a.members:,} members")
        t = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", a.bin, "--database-url", store.url, "demo", "--members", str(a.members)],
                           capture_output=True, text=True, cwd=work)
        if p.returncode != 0:
            raise SystemExit(p.stdout + p.stderr)
        gen = time.perf_counter() - t
        peak = int(p.stderr.strip().splitlines()[-1]) // 1024
        row("`dangjian demo` generation", scale, "", f"{gen:.1f} s", "", "", f"peak {peak} MB", "—")
    if backend == "postgres":
        # what `dangjian demo` ends with, for a database copied from a template
        store.rows("VACUUM ANALYZE")
    members = store.scalar("SELECT COUNT(*) FROM members")
    orgs = store.scalar("SELECT COUNT(*) FROM orgs")
    out["scale"] = f"{members:,} members, {orgs:,} organisations"

    port = 19000 + os.getpid() % 500 + (0 if backend == "sqlite" else 500)
    server = start_server(a, store, port)
    try:
        time.sleep(1)
        out["idle_rss"] = server.rss_kb()
        city, county, sec, mem = (login(port, u)[0] for u in ("city", "county", "secretary", "member"))
        root = ok_json(city, "/api/v1/me")["org_id"]
        county_id = ok_json(county, "/api/v1/me")["org_id"]
        me = ok_json(mem, "/api/v1/me")
        branch = ok_json(sec, "/api/v1/me")["org_id"]
        cpath = store.rows(f"SELECT path FROM orgs WHERE id = {county_id}")[0][0]
        where = f"WHERE o.path >= {lit(cpath)} AND o.path < {lit(path_upper(cpath))}"
        rpath = store.rows(f"SELECT path FROM orgs WHERE id = {root}")[0][0]
        rwhere = f"WHERE o.path >= {lit(rpath)} AND o.path < {lit(path_upper(rpath))}"
        county_members = int(store.scalar(f"SELECT COUNT(*) FROM members m JOIN orgs o ON o.id = m.org_id {where}"))
        deep = max(1, county_members // 20 // 2)
        cols = ("m.id, m.org_id, o.name AS org_name, m.group_id, m.name, m.gender, m.ethnicity, m.birth_month, m.id_masked, "
                "m.phone_masked, m.education, m.work_unit, m.region_code, m.join_date, m.full_date, m.status, m.grid_role, "
                "m.mobile_destination, m.version")
        some_member = int(store.scalar(f"SELECT m.id FROM members m JOIN orgs o ON o.id = m.org_id {where} ORDER BY m.id LIMIT 1 OFFSET {county_members // 3}"))
        pinyin = "wangj"
        # the SQL the member list runs (member::store::list): the total, then the page's ids and
        # their rows. A roll's total is the sum of the stored per-organisation counts and its page
        # walks the organisations in path order; a name search of three letters or more in a
        # county counts its matches from the name indexes and keeps id order.
        pin_upper = pinyin + chr(127)
        pin_where = (f"{where} AND m.id IN (SELECT id FROM members WHERE name_initials >= {lit(pinyin)} AND "
                     f"name_initials < {lit(pin_upper)} UNION SELECT id FROM members WHERE "
                     f"name_pinyin >= {lit(pinyin)} AND name_pinyin < {lit(pin_upper)})")
        roll_count = (f"SELECT SUM(c.n) FROM org_member_counts c {where.replace('o.path', 'c.path')}")
        pin_count = (f"SELECT COUNT(*) FROM (SELECT id, org_id FROM members WHERE name_initials >= {lit(pinyin)} AND "
                     f"name_initials < {lit(pin_upper)} UNION SELECT id, org_id FROM members WHERE name_pinyin >= {lit(pinyin)} "
                     f"AND name_pinyin < {lit(pin_upper)}) x JOIN orgs o ON o.id = x.org_id {where}")

        def page_sql(count, cond, order, offset):
            return [count,
                    f"SELECT {cols} FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id IN (SELECT m.id FROM "
                    f"members m JOIN orgs o ON o.id = m.org_id {cond} ORDER BY {order} LIMIT 20 OFFSET {offset}) ORDER BY {order}"]
        today = date.today()
        month = f"{today.year}-{today.month:02d}"
        lm = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
        last_month = f"{lm.year}-{lm.month:02d}"
        ym, this_ym = lm.year * 100 + lm.month, today.year * 100 + today.month
        q = (today.month - 1) // 3 + 1
        qfrom, qto = today.year * 100 + q * 3 - 2, today.year * 100 + q * 3
        quarter = f"{today.year}-Q{q}"
        children_sql = ("SELECT o.*, (SELECT COUNT(*) FROM orgs c WHERE c.parent_id = o.id AND c.dissolved_at IS NULL), "
                        "(SELECT COUNT(*) FROM members m WHERE m.org_id = o.id) "
                        f"FROM orgs o WHERE o.parent_id = {county_id} AND o.dissolved_at IS NULL ORDER BY o.sort, o.id")
        month_sum = "SELECT member_id, SUM(points) FROM point_entries WHERE subject = 'member' AND month = {} GROUP BY member_id"

        county_branches = [int(r[0]) for r in store.rows(
            f"SELECT o.id FROM orgs o {where} AND o.kind = 'branch' AND o.dissolved_at IS NULL ORDER BY o.id LIMIT 300")]

        # -- one client: latency of each endpoint, next to its SQL ----------------------------------
        token = make_token(port, "county", "bench")
        writer = Api(port, token)
        seqno = [0]

        def create_member():
            seqno[0] += 1
            rows_ = member_rows(1, ["#%d" % branch], seed=seqno[0], first=900_000 + seqno[0] + os.getpid() % 1000 * 1000)
            r = rows_[1]
            s, b = writer.call("POST", "/api/v1/members", member_body(r, county_branches[seqno[0] % len(county_branches)]))
            if s != 200:
                raise SystemExit(f"member create: {s} {b}")

        cases = [
            ("login (argon2id)", None, None, None),
            ("member list, first page (county)", county, f"/api/v1/members?org_id={county_id}",
             page_sql(roll_count, where, "o.path, m.id", 0)),
            (f"member list, deep page {deep:,} (county)", county, f"/api/v1/members?org_id={county_id}&page={deep}",
             page_sql(roll_count, where, "o.path, m.id", (deep - 1) * 20)),
            (f"pinyin search `{pinyin}` (county)", county, f"/api/v1/members?org_id={county_id}&q={pinyin}",
             page_sql(pin_count, pin_where, "m.id", 0) if backend == "sqlite" else
             # PostgreSQL: the page's ids from the name indexes alone, as member::store::list asks
             [pin_count, f"SELECT {cols} FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id IN (SELECT x.id "
                         f"{pin_count.split(' ', 2)[2]} ORDER BY x.id LIMIT 20) ORDER BY m.id"]),
            ("member detail (county)", county, f"/api/v1/members/{some_member}",
             [f"SELECT {cols}, o.path AS org_path FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id = {some_member}"]),
            ("member page, HTML (county)", county, f"/members/{some_member}", None),
            ("organisation tree: a county's children", county, f"/api/v1/orgs/{county_id}/children", [children_sql]),
            ("dashboard, whole city (HTML)", city, "/",
             [f"SELECT m.status, m.education, m.gender, COUNT(*) FROM members m JOIN orgs o ON o.id = m.org_id {rwhere} GROUP BY m.status, m.education, m.gender"]),
            ("member list page, HTML (county)", county, f"/members?org_id={county_id}", None),
            ("recruitment board, whole city", city, f"/api/v1/recruits/board?org_id={root}",
             [f"SELECT r.step, COUNT(*), SUM(CASE WHEN r.due_on < {lit(today)} THEN 1 ELSE 0 END), "
              f"SUM(CASE WHEN r.due_on >= {lit(today)} AND r.due_on <= {lit(today + timedelta(days=30))} THEN 1 ELSE 0 END) "
              f"FROM recruits r JOIN orgs o ON o.id = r.org_id {rwhere} AND r.status = 'active' GROUP BY r.step"]),
            ("points: a branch's month board", sec, f"/api/v1/points/board?org_id={branch}&month={month}",
             [f"SELECT member_id, month, SUM(points) FROM point_entries WHERE subject = 'member' AND month IN ({this_ym}) AND org_id = {branch} GROUP BY member_id, month"]),
            ("points: a branch's quarterly board", sec, f"/api/v1/points/board?org_id={branch}&quarter={quarter}",
             [f"SELECT member_id, month, SUM(points) FROM point_entries WHERE subject = 'member' AND month IN ({qfrom}, {qfrom + 1}, {qto}) AND org_id = {branch} GROUP BY member_id, month"]),
            ("points: the city's monthly ranking", city, f"/api/v1/points/ranking?org_id={root}&month={last_month}",
             [month_sum.format(ym)]),
            ("points: a member's own year", mem, f"/api/v1/points/me?year={today.year}", None),
            ("member create (API, audited)", "create", None, None),
        ]
        for name, client, path, base in cases:
            n = a.n if "ranking" not in name else max(3, a.n // 3)
            if client is None:
                fn = lambda: login(port, "secretary")  # noqa: E731
                n = max(3, a.n // 3)
            elif client == "create":
                fn = create_member
            else:
                def fn(path=path, client=client):
                    s, _, _ = client.raw("GET", path)
                    if s != 200:
                        raise SystemExit(f"{path}: {s}")
            times = measure(fn, n)
            p50, p99, mx = statistics.median(times), percentile(times, 99), max(times)
            ratio = "—"
            if base:
                bt = store.time(base, n)
                b50 = statistics.median(bt)
                ratio = f"{p50 / b50:.2f}× ({b50:.2f} ms)"
            row(name, scale, f"{1000 / statistics.mean(times):.0f}/s", f"{p50:.1f} ms", f"{p99:.1f} ms", f"{mx:.1f} ms", "", ratio)
            log(f"{backend}: {name}: p50 {p50:.1f} ms p99 {p99:.1f} ms ({ratio})")

        # -- 32 connections --------------------------------------------------------------------------
        sessions = {u: login(port, u, 4) for u in ("city", "county", "secretary", "member")}

        def mix(spec):
            plan = []
            for label, weight, user, path in spec:
                for i, s in enumerate(sessions[user]):
                    plan.append((label, weight, "GET", path, None, [cookie(s)]))
            return plan

        conc = [
            ("member list, first page (county)", [("list", 1, "county", f"/api/v1/members?org_id={county_id}")]),
            ("member list page, HTML (county)", [("list page", 1, "county", f"/members?org_id={county_id}")]),
            ("dashboard, whole city (HTML)", [("dashboard", 1, "city", "/")]),
            ("member detail (county)", [("detail", 1, "county", f"/api/v1/members/{some_member}")]),
            ("points: a branch's month board", [("board", 1, "secretary", f"/api/v1/points/board?org_id={branch}&month={month}")]),
        ]
        # a day's reads: members on their phones most, then branch secretaries, then county and city staff
        day = [
            ("member: home", 10, "member", "/"),
            ("member: my points", 12, "member", "/points/me"),
            ("member: my record", 6, "member", f"/members/{me['member_id']}"),
            ("member: notices", 4, "member", "/notices"),
            ("secretary: home", 6, "secretary", "/"),
            ("secretary: branch members", 8, "secretary", f"/members?org_id={branch}"),
            ("secretary: a member", 6, "secretary", f"/api/v1/members?org_id={branch}&per_page=5"),
            ("secretary: branch points", 8, "secretary", f"/points?org_id={branch}&month={month}"),
            ("secretary: recruitment", 4, "secretary", "/recruits"),
            ("county: members", 8, "county", f"/members?org_id={county_id}"),
            ("county: member page", 6, "county", f"/members/{some_member}"),
            ("county: pinyin search", 6, "county", f"/members?org_id={county_id}&q={pinyin}"),
            ("county: tree", 6, "county", f"/orgs/{county_id}/children"),
            ("county: home", 3, "county", "/"),
            ("county: recruitment board", 3, "county", "/api/v1/recruits/board"),
            ("city: home", 2, "city", "/"),
            ("city: members", 2, "city", "/members"),
        ]
        conc.append(("a day's mix of pages (17 kinds, 4 roles)", day))
        for name, spec in conc:
            r = load(a, port, mix(spec))
            al = r["all"]
            bad = sum(v for k, v in r["status"].items() if not k.startswith("2")) + r["errors"]
            out["load"].append((name, a.connections, f"{al['rps']:.0f}/s", f"{al['p50_ms']:.1f} ms",
                                f"{al['p99_ms']:.1f} ms", f"{al['max_ms']:.1f} ms", str(bad)))
            log(f"{backend}: {a.connections} connections, {name}: {al['rps']:.0f}/s p99 {al['p99_ms']:.1f} ms, "
                f"{bad} not 2xx {r['samples']}; RSS {server.rss_kb() // 1024} MB, peak {server.rss_kb('VmHWM') // 1024} MB")
            if name.startswith("a day"):
                out["day"] = r["labels"]

        # -- writes under concurrency: a review meeting's raters scoring --------------------------
        camp = store.rows("SELECT id, scheme_id FROM review_campaigns WHERE status = 'meeting' ORDER BY id LIMIT 1")
        if camp:
            cid, scheme_id = int(camp[0][0]), int(camp[0][1])
            scheme = json.loads(store.rows(f"SELECT scheme_json FROM review_schemes WHERE id = {scheme_id}")[0][0])
            reporters = [int(r[0]) for r in store.rows(f"SELECT id FROM review_reporters WHERE campaign_id = {cid}")]
            groups = [g["key"] for g in scheme["groups"]]
            raters = []
            for i in range(a.raters):
                s, b = writer.call("POST", f"/api/v1/reviews/{cid}/raters",
                                   {"name": f"评议人{i + 1:03d}", "grp": groups[i % len(groups)], "unit": "会场"})
                if s != 200:
                    raise SystemExit(f"rater: {s} {b}")
                raters.append((b["rater"]["id"], b["code"].replace("-", "")))
            inds = [i["key"] for i in scheme["indicators"]]
            levels = [lv["key"] for lv in scheme["levels"]]
            rng = random.Random(5)
            plan, pairs = [], []
            for rid, code in raters:
                for rep in reporters:
                    body = json.dumps({"reporter_id": rep, "answers": {k: rng.choice(levels) for k in inds}, "comment": ""},
                                      separators=(",", ":"))
                    plan.append(("score", 1, "POST", f"/api/v1/score/{code}", body, ["Content-Type: application/json"]))
                    pairs.append((rid, rep))
            ids = ",".join(str(r) for r, _ in raters)
            audit0 = store.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'review.score'")
            r = load(a, port, plan, warmup=0)
            al = r["all"]
            acked = sum(r["ok_per_line"])
            stored = {(int(x[0]), int(x[1])): int(x[2]) for x in store.rows(
                f"SELECT rater_id, reporter_id, revisions FROM review_scores WHERE rater_id IN ({ids})")}
            lost = sum(1 for (pair, k) in zip(pairs, r["ok_per_line"]) if k and stored.get(pair, -1) + 1 != k)
            audited = store.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'review.score'") - audit0
            bad = sum(v for k, v in r["status"].items() if not k.startswith("2")) + r["errors"]
            out["load"].append((f"review meeting: scores from {a.raters} raters × {len(reporters)} reporters (writes)",
                                a.connections, f"{al['rps']:.0f}/s", f"{al['p50_ms']:.1f} ms", f"{al['p99_ms']:.1f} ms",
                                f"{al['max_ms']:.1f} ms", str(bad)))
            out["notes"].append(f"Scoring: {acked:,} submissions acknowledged, {sum(stored.values()) + len(stored):,} stored "
                                f"(revisions + 1 per rater and reporter), {audited:,} audit entries; pairs whose stored "
                                f"revision count differs from their acknowledgements: {lost}.")
            log(f"{backend}: scoring {al['rps']:.0f}/s p99 {al['p99_ms']:.1f} ms acked {acked} audited {audited} lost {lost} bad {bad} {r['samples']}")

        # -- member creation under concurrency (each request a new person) -------------------------
        plan = []
        for i, r in enumerate(member_rows(a.creates, ["x"], seed=11, first=2_000_000 + (os.getpid() % 97) * 20_000)[1:]):
            body = json.dumps(member_body(r, county_branches[i % len(county_branches)]), ensure_ascii=False)
            plan.append(("create", 1, "POST", "/api/v1/members", body,
                         ["Content-Type: application/json", f"Authorization: Bearer {token}"]))
        before = store.scalar("SELECT COUNT(*) FROM members")
        r = load(a, port, plan, duration=min(a.duration, 5), warmup=0, once=True)
        after = store.scalar("SELECT COUNT(*) FROM members")
        al = r["all"]
        dup = sum(1 for k in r["ok_per_line"] if k > 1)
        out["load"].append(("member create (API, audited; writes)", a.connections, f"{al['rps']:.0f}/s", f"{al['p50_ms']:.1f} ms",
                            f"{al['p99_ms']:.1f} ms", f"{al['max_ms']:.1f} ms",
                            str(r["status"].get("422", 0) + r["status"].get("409", 0)) + " refused duplicates"))
        out["notes"].append(f"Member creation: {sum(r['ok_per_line']):,} acknowledged, members grew by {after - before:,}; "
                            f"a person created twice: {dup} (a repeated plan line is refused as a duplicate ID number).")
        out["peak_load"] = server.rss_kb("VmHWM")
        out["after_rss"] = server.rss_kb()

        # -- export of 10,000 ---------------------------------------------------------------------------
        # about 10,000: a county's members with one level of education (the export takes the
        # member list's filters)
        pick = store.rows(
            "SELECT t.id, m.education, COUNT(*) FROM orgs t JOIN orgs b ON b.path >= t.path "
            "AND b.path < substr(t.path, 1, length(t.path) - 1) || '0' JOIN members m ON m.org_id = b.id "
            f"WHERE t.level = 'county' AND t.kind = 'committee' GROUP BY t.id, m.education "
            f"ORDER BY ABS(COUNT(*) - {a.export}) LIMIT 1")
        eorg, edu, en = int(pick[0][0]), pick[0][1], int(pick[0][2])

        def export():
            s, _, data = city.raw("GET", f"/api/v1/members/export?org_id={eorg}&education={urllib.parse.quote(edu)}")
            if s != 200 or data[:2] != b"PK":
                raise SystemExit(f"export: {s}")
        times = measure(export, max(3, a.n // 6), warm=1)
        row(f"xlsx export of {en:,} members", scale, "", f"{statistics.median(times) / 1000:.2f} s", "",
            f"{max(times) / 1000:.2f} s", "", "—")
    finally:
        server.stop()

    # -- import of 100,000 from xlsx: a fresh server, so its peak is the import's ----------------------
    branches = [r[0] for r in store.rows(f"SELECT name FROM orgs WHERE kind = 'branch' AND dissolved_at IS NULL "
                                         f"AND name NOT IN (SELECT name FROM orgs WHERE kind = 'branch' GROUP BY name HAVING COUNT(*) > 1) LIMIT 500")]
    data = xlsx(member_rows(a.imports, branches, seed=3, first=10_000_000 + (os.getpid() % 89) * 120_000))
    server = start_server(a, store, port)
    try:
        time.sleep(1)
        before_peak = server.rss_kb("VmHWM")
        staff = Api(port, timeout=600).login("city")
        csrf = staff.csrf()
        boundary = "----djbench"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\nall\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"members.xlsx\"\r\n"
                "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n").encode() + data + \
            f"\r\n--{boundary}--\r\n".encode()
        t = time.perf_counter()
        s, headers, page = staff.raw("POST", "/members/import", body,
                                     {"Content-Type": f"multipart/form-data; boundary={boundary}", "X-CSRF-Token": csrf})
        loc = dict((k.lower(), v) for k, v in headers).get("location", "")
        if s != 303 or "/members/import/" not in loc:
            raise SystemExit(f"import: {s} {page[:500]!r}")
        job = loc.rsplit("/", 1)[-1]
        while True:
            s, _, html = staff.raw("GET", f"/members/import/{job}", headers={"HX-Request": "true"})
            text = html.decode("utf-8", "replace")
            if s != 200 or "data-written=" in text:
                break
            time.sleep(0.2)
        took = time.perf_counter() - t
        written = int(text.split('data-written="')[1].split('"')[0]) if "data-written=" in text else 0
        if written != a.imports:
            raise SystemExit(f"import wrote {written} of {a.imports}: {' '.join(text.split())[:1500]}")
        row(f"xlsx import of {a.imports:,} members (upload, check, write)", scale, f"{a.imports / took:,.0f} rows/s",
            f"{took:.1f} s", "", "", f"peak {server.rss_kb('VmHWM') // 1024} MB (before {before_peak // 1024} MB)", "—")
        log(f"{backend}: import {a.imports} in {took:.1f} s, peak {server.rss_kb('VmHWM') // 1024} MB")
    finally:
        server.stop()

    # -- audit verify over this database's log ---------------------------------------------------------
    row(*verify_row(a, store, scale))
    return out


def verify_row(a, store, scale):
    t = time.perf_counter()
    p = subprocess.run([a.bin, "--database-url", store.url, "audit", "verify"], capture_output=True, text=True, cwd=store.work)
    took = time.perf_counter() - t
    entries = store.scalar("SELECT COUNT(*) FROM audit_log")
    return (f"`dangjian audit verify` ({entries:,} entries)", scale, f"{entries / took:,.0f} entries/s", f"{took:.2f} s",
            "", "", "", "—" if p.returncode == 0 else f"FAILED: {(p.stdout + p.stderr)[-200:]}")


def audit_log_of(a, backend, work):
    """`dangjian audit verify` over a log of a.audit entries: a small demo city into which
    `dangjian import` brings a.audit members (one audited creation each), as a province moving
    its roster in would. Each backend builds its own (the chain is keyed by each database's data
    key, so a copied log would not verify; a million members into PostgreSQL take a while)."""
    sub = os.path.join(work, "audit")
    os.makedirs(sub, exist_ok=True)
    store = Store(backend, sub, f"audit_{a.audit}")
    # built once a run, or reused with --reuse
    built = f"audit_built_{backend}"
    if not (store.exists() and (a.reuse or getattr(a, built, False))):
        setattr(a, built, True)
        store.create()
        subprocess.run([a.bin, "--database-url", store.url, "demo", "--members", "1000"], check=True,
                       capture_output=True, cwd=sub)
        branches = [f"#{r[0]}" for r in store.rows("SELECT id FROM orgs WHERE kind = 'branch' AND dissolved_at IS NULL")]
        per = 250_000
        for k in range(0, a.audit, per):
            n = min(per, a.audit - k)
            path = os.path.join(sub, "import.csv")
            with open(path, "w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows(member_rows(n, branches, seed=k, first=k))
            log(f"audit log ({backend}): importing {k + n:,} of {a.audit:,}")
            subprocess.run([a.bin, "--database-url", store.url, "import", path], check=True, capture_output=True, cwd=sub)
            os.remove(path)
        store.con = None
    return verify_row(a, store, "import-built log")


def table(head, rows):
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(map(str, r)) + " |" for r in rows]


def save(a, text):
    """The results so far (each backend as it finishes), unless --quick."""
    if a.quick:
        return
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", f"{date.today()}-{a.backend}-{a.members}.md"), "w") as f:
        f.write("\n".join(text) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=300_000)
    ap.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reuse", help="a directory holding the data of an earlier run")
    ap.add_argument("--bin", help="a dangjian binary to use as it is (default: build --release)")
    ap.add_argument("-n", type=int, default=30, help="requests per endpoint, one client")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--duration", type=float, default=10, help="seconds per load phase")
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--raters", type=int, default=300)
    ap.add_argument("--creates", type=int, default=20_000)
    ap.add_argument("--export", type=int, default=10_000)
    ap.add_argument("--imports", type=int, default=100_000)
    ap.add_argument("--audit", type=int, default=1_000_000, help="entries of the log audit verify walks")
    a = ap.parse_args()
    if a.quick:
        (a.members, a.n, a.duration, a.warmup, a.raters, a.creates, a.export, a.imports, a.audit) = \
            (3000, 5, 1, 0.5, 20, 500, 500, 1000, 3000)
    if not a.bin:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        a.bin = os.path.join(ROOT, "target", "release", "dangjian")
    a.bin = os.path.abspath(a.bin)
    a.loadgen = build_loadgen()
    pin(1)
    work = os.path.abspath(a.reuse) if a.reuse else tempfile.mkdtemp(prefix="dj-bench-")
    os.makedirs(work, exist_ok=True)
    backends = ["sqlite", "postgres"] if a.backend == "both" else [a.backend]
    text = []
    for b in backends:
        r = run_backend(a, b, work)
        r["rows"].append(audit_log_of(a, b, work))
        text += [f"## {b}, {r['scale']}", "",
                 f"Server RSS: idle {r['idle_rss'] / 1024:.0f} MB; peak under load {r['peak_load'] / 1024:.0f} MB; "
                 f"{r['after_rss'] / 1024:.0f} MB after the load.", "",
                 f"One client, {a.n} requests each after 2 warm-up requests:", ""]
        text += table(("endpoint", "scale", "req/s", "p50", "p99", "max", "memory", "p50 ÷ raw SQL (raw p50)"), r["rows"])
        text += ["", f"{a.connections} connections, {a.duration:g} s each after {a.warmup:g} s warm-up (load generator on core 1):", ""]
        text += table(("load", "connections", "req/s", "p50", "p99", "max", "not 2xx"), r["load"])
        if r.get("day"):
            text += ["", "The day's mix by kind:", ""]
            text += table(("page", "requests", "p50", "p99"),
                          [(k, v["n"], f"{v['p50_ms']:.1f} ms", f"{v['p99_ms']:.1f} ms") for k, v in r["day"].items()])
        text += [""] + [f"- {n}" for n in r["notes"]] + [""]
        save(a, text)
    out = "\n".join(text)
    save(a, text)
    print(out)
    log(f"data: {work}")
    if a.quick and not a.reuse:
        shutil.rmtree(work, ignore_errors=True)
        for b in backends:
            if b == "postgres":
                Store("postgres", work, a.members).drop()
                Store("postgres", work, f"audit_{a.audit}").drop()


if __name__ == "__main__":
    main()
