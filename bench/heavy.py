"""The reports that aggregate a subtree, at the whole tree (the city, or the province on
PostgreSQL) and at a county: one client, each report requested n times after 2 warm-up
requests, next to its main SQL run the same number of times against the same database in the
same run (SQLite: Python's sqlite3 read-only; PostgreSQL: psycopg-free `psql` with \\timing).
Then, with --conns N, each report under N connections (bench/loadgen) for a few seconds.

    python3 bench/heavy.py BIN DATABASE_URL [--n 10] [--conns 16] [--only recruit_stats,...]

Prints a Markdown table: report, scope, p50, p99, raw p50, ratio; and the loaded figures.
The dashboard is answered from its 30-second cache; `--env DANGJIAN_DASHBOARD_CACHE_SECONDS=0`
measures the recount.
"""
import argparse
import datetime
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "drills"))
from common import Api, Server  # noqa: E402


def pin(core):
    try:
        os.sched_setaffinity(0, {core})
    except (AttributeError, OSError):
        pass


def reports(today, scope_path, scope_upper):
    """(name, path template, [raw SQL]) of each heavy report; {org} is the scope's id. The raw
    SQL is what the server runs for it (its main statements), timed one after the other."""
    y = today.year
    month = today.year * 100 + today.month
    q = (today.month - 1) // 3
    months = ", ".join(str(today.year * 100 + q * 3 + i) for i in (1, 2, 3))
    rng = f"o.path >= '{scope_path}' AND o.path < '{scope_upper}'"
    this_monday = today - datetime.timedelta(days=today.weekday())
    last_monday = this_monday - datetime.timedelta(days=7)
    last_key = "%d-W%02d" % last_monday.isocalendar()[:2]
    totals = lambda subject, span, period: (  # noqa: E731
        f"SELECT t.member_id, SUM(t.total) FROM point_totals t JOIN orgs o ON o.id = t.org_id "
        f"WHERE t.subject = '{subject}' AND t.span = '{span}' AND t.period IN ({period}) AND {rng} GROUP BY t.member_id")
    return [
        ("recruit_stats", f"/recruits/stats?org_id={{org}}&year={y}", [
            f"SELECT o.path, r.step, COUNT(*) FROM recruits r JOIN orgs o ON o.id = r.org_id WHERE {rng} AND r.status = 'active' GROUP BY o.path, r.step",
            f"SELECT o.path, COUNT(*) FROM recruit_entries e JOIN recruits r ON r.id = e.recruit_id JOIN orgs o ON o.id = r.org_id "
            f"WHERE {rng} AND e.step = 17 AND e.complete = TRUE AND NOT EXISTS (SELECT 1 FROM recruit_entries c2 WHERE c2.corrects_id = e.id AND c2.complete = TRUE) "
            f"AND e.done_on >= '{y}-01-01' AND e.done_on <= '{y}-12-31' GROUP BY o.path",
            f"SELECT o.path, COUNT(*) FROM recruits r JOIN orgs o ON o.id = r.org_id WHERE {rng} AND r.full_on >= '{y}-01-01' AND r.full_on <= '{y}-12-31' GROUP BY o.path"]),
        ("recruit_board", "/api/v1/recruits/board?org_id={org}", [
            f"SELECT r.step, COUNT(*) FROM recruits r JOIN orgs o ON o.id = r.org_id WHERE {rng} AND r.status = 'active' GROUP BY r.step"]),
        # the quarterly board's first page: the branches (the secretaries are the other tab)
        ("points_board", f"/points/board?org_id={{org}}&quarter={today.year}-Q{q + 1}", [
            f"SELECT t.org_id, t.period, t.total FROM point_totals t JOIN orgs o ON o.id = t.org_id WHERE t.subject = 'branch' AND t.span = 'M' AND t.period IN ({months}) AND {rng}",
            f"SELECT o.id, o.name FROM orgs o WHERE {rng} AND o.kind IN ('branch', 'joint_branch') AND o.dissolved_at IS NULL"]),
        ("points_board_secretaries", f"/points/board?org_id={{org}}&quarter={today.year}-Q{q + 1}&subject=secretary", [
            f"SELECT t.member_id, t.period, SUM(t.total) FROM point_totals t JOIN orgs o ON o.id = t.org_id WHERE t.subject = 'secretary' AND t.span = 'M' AND t.period IN ({months}) AND {rng} GROUP BY t.member_id, t.period",
            f"SELECT m.id, m.name, MIN(b.name) FROM point_totals t JOIN members m ON m.id = t.member_id JOIN orgs b ON b.id = t.org_id JOIN orgs o ON o.id = t.org_id WHERE t.subject = 'secretary' AND t.span = 'M' AND t.period IN ({months}) AND {rng} GROUP BY m.id, m.name"]),
        ("points_ranking", f"/points/ranking?org_id={{org}}&month={today.year}-{today.month:02d}", [totals("member", "M", month)]),
        ("points_ranking_year", f"/api/v1/points/ranking?org_id={{org}}&year={y}&limit=100", [totals("member", "Y", y)]),
        ("rectify_bulletin", f"/rectify/bulletin?org_id={{org}}&month={today.year}-{today.month:02d}", [
            f"SELECT i.org_id, i.status, i.deadline FROM rect_items i JOIN orgs o ON o.id = i.org_id WHERE {rng}"]),
        ("rectify_board", "/api/v1/rectify/board?org_id={org}", [
            f"SELECT i.status, COUNT(*) FROM rect_items i JOIN orgs o ON o.id = i.org_id WHERE {rng} GROUP BY i.status"]),
        ("talent_summary", "/api/v1/talents/summary?org_id={org}", [
            f"SELECT t.pool, t.status, COUNT(*) FROM talents t JOIN orgs o ON o.id = t.org_id WHERE {rng} GROUP BY t.pool, t.status"]),
        ("org_warnings", "/orgs/warnings?org_id={org}", [
            f"SELECT o.id, o.name, SUM(c.n) FROM orgs o LEFT JOIN org_member_counts c ON c.org_id = o.id WHERE {rng} AND o.kind IN ('branch', 'joint_branch') AND o.dissolved_at IS NULL GROUP BY o.id, o.name"]),
        # the recount's one pass over the members (its other panels run beside it)
        ("dashboard", "/", [
            f"SELECT m.status, m.education, m.gender, COUNT(*){profile_cases(today)} FROM members m JOIN orgs o ON o.id = m.org_id WHERE {rng} AND m.status <> 'left' GROUP BY m.status, m.education, m.gender"]),
        # 工作台: the to-dos of the account (a county's: its files overdue, claims, transfers,
        # ledger items to verify, campaigns and rounds), the sources' main counts
        ("workbench", "/api/v1/workbench", [
            f"SELECT COUNT(*) FROM recruits r JOIN orgs o ON o.id = r.org_id WHERE {rng} AND r.status = 'active' AND r.due_on < '{today}'",
            f"SELECT COUNT(*), MIN(c.done_on) FROM point_claims c JOIN orgs o ON o.id = c.org_id WHERE c.status = 'pending' AND {rng}",
            f"SELECT COUNT(*) FROM transfers t JOIN orgs o ON o.id = t.to_org_id WHERE t.status = 'sent' AND {rng}",
            f"SELECT COUNT(*) FROM rect_items i JOIN orgs o ON o.id = i.supervisor_id WHERE i.status = 'pending' AND {rng}"]),
        ("reviews", "/reviews", [
            f"SELECT c.id FROM review_campaigns c JOIN orgs o ON o.id = c.org_id WHERE {rng}"]),
        ("stars", "/stars?org_id={org}", [
            f"SELECT r.id FROM star_rounds r JOIN orgs o ON o.id = r.org_id WHERE {rng}"]),
        ("lovebank_statement", "/lovebank/statement?org_id={org}", [
            f"SELECT e.kind, e.service, e.quantity, e.points, e.done_on, e.card_id FROM love_entries e JOIN love_cards c ON c.id = e.card_id JOIN orgs o ON o.id = c.org_id WHERE {rng} AND e.done_on <= '{today}'"]),
        ("talents", "/talents?org_id={org}", [
            f"SELECT t.id FROM talents t JOIN orgs o ON o.id = t.org_id WHERE {rng} ORDER BY t.id LIMIT 50"]),
        # 工作记实: last week's board of the subtree's weekly reporters, and 13 weeks of
        # punctuality per unit
        ("work_log_board", f"/api/v1/work-logs/board?org_id={{org}}&week={last_monday}", [
            f"SELECT c.id, w.id, w.status, w.late, b.status FROM cadres c JOIN orgs o ON o.id = c.managed_by "
            f"LEFT JOIN work_logs w ON w.cadre_id = c.id AND w.week_start = '{last_monday}' "
            f"LEFT JOIN obligations b ON b.kind = 'work_log.weekly' AND b.subject_type = 'cadre' AND b.subject_id = c.id AND b.period = '{last_key}' "
            f"WHERE {rng} AND c.status = 'active' AND c.weekly_record = TRUE ORDER BY c.unit, c.name LIMIT 50"]),
        ("work_log_compliance", "/api/v1/work-logs/compliance?org_id={org}", [
            f"SELECT b.subject_id, b.status, COUNT(*) FROM obligations b JOIN orgs o ON o.id = b.scope_org_id "
            f"WHERE b.kind = 'work_log.weekly' AND {rng} AND b.period_start >= '{this_monday - datetime.timedelta(days=84)}' "
            f"AND b.period_start <= '{this_monday}' GROUP BY b.subject_id, b.status"]),
        # 组织生活: the year's compliance of every branch of the subtree (三会一课达标情况)
        ("meeting_compliance", f"/api/v1/meetings/compliance?org_id={{org}}&year={y}", [
            f"SELECT o.id, o.name, po.name, SUM(CASE WHEN b.status = 'done' THEN 1 ELSE 0 END), SUM(CASE WHEN b.status = 'late' THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN b.status = 'missed' THEN 1 ELSE 0 END), SUM(CASE WHEN b.status = 'due' AND b.due_at < '{today}' THEN 1 ELSE 0 END) "
            f"FROM orgs o LEFT JOIN orgs po ON po.id = o.parent_id LEFT JOIN obligations b ON b.scope_org_id = o.id "
            f"AND b.kind IN ('meeting.assembly', 'meeting.committee', 'meeting.group', 'meeting.lecture', 'meeting.theme_day', 'meeting.life', 'meeting.appraisal') "
            f"AND b.subject_type = 'org' AND b.period_start >= '{y}-01-01' AND b.period_start <= '{y}-12-31' "
            f"WHERE {rng} AND o.kind IN ('branch', 'joint_branch') AND o.dissolved_at IS NULL GROUP BY o.id, o.name, po.name",
            f"SELECT COUNT(DISTINCT m.id) FROM meetings m JOIN orgs o ON o.id = m.org_id JOIN meeting_observers v ON v.meeting_id = m.id AND v.category = 'upper' "
            f"WHERE {rng} AND m.held_on >= '{y}-01-01' AND m.held_on <= '{y}-12-31'"]),
        # 第一书记: the month's days in the village of every first secretary of the subtree
        ("fs_presence", f"/api/v1/first-secretaries/presence?org_id={{org}}&month={today:%Y-%m}", [
            f"SELECT a.id, c.name, v.name, a.start_on, a.ends_on, a.ended_on FROM fs_assignments a JOIN fs_rounds r ON r.id = a.round_id "
            f"JOIN orgs ro ON ro.id = r.org_id JOIN cadres c ON c.id = a.cadre_id JOIN orgs v ON v.id = a.village_id "
            f"WHERE a.status IN ('on_duty', 'recalled', 'completed') AND a.start_on <= '{today}' AND COALESCE(a.ended_on, a.ends_on) >= '{today.replace(day=1)}' "
            f"AND ((v.path >= '{scope_path}' AND v.path < '{scope_upper}') OR (ro.path >= '{scope_path}' AND ro.path < '{scope_upper}'))",
            f"SELECT k.assignment_id, k.local_day, MAX(CASE WHEN k.inside THEN 1 ELSE 0 END), SUM(CASE WHEN k.offline THEN 1 ELSE 0 END) "
            f"FROM fs_checkins k JOIN fs_assignments a ON a.id = k.assignment_id JOIN fs_rounds r ON r.id = a.round_id JOIN orgs ro ON ro.id = r.org_id "
            f"JOIN orgs v ON v.id = a.village_id WHERE k.local_day >= '{today.replace(day=1)}' AND k.local_day <= '{today}' "
            f"AND ((v.path >= '{scope_path}' AND v.path < '{scope_upper}') OR (ro.path >= '{scope_path}' AND ro.path < '{scope_upper}')) "
            f"GROUP BY k.assignment_id, k.local_day"]),
        # 一季一排名: this quarter's ranking as it stands (the department's rounds and the
        # villages below it, each month's sheet)
        ("fs_ranking", f"/api/v1/first-secretaries/rankings?org_id={{org}}&quarter={y}-Q{q + 1}", [
            f"SELECT a.id, c.name, v.id, v.name, v.path, a.sending_unit, r.org_id FROM fs_assignments a JOIN fs_rounds r ON r.id = a.round_id "
            f"JOIN orgs ro ON ro.id = r.org_id JOIN cadres c ON c.id = a.cadre_id JOIN orgs v ON v.id = a.village_id "
            f"WHERE a.status IN ('on_duty', 'recalled', 'completed') AND a.start_on <= '{today}' AND COALESCE(a.ended_on, a.ends_on) >= '{today.replace(day=1, month=q * 3 + 1)}' "
            f"AND ((v.path >= '{scope_path}' AND v.path < '{scope_upper}') OR (ro.path >= '{scope_path}' AND ro.path < '{scope_upper}'))",
            f"SELECT e.org_id, e.month, e.indicator, SUM(e.points), SUM(CASE WHEN e.reverses_id IS NULL THEN 1 ELSE -1 END) FROM point_entries e "
            f"JOIN orgs o ON o.id = e.org_id WHERE e.subject = 'first_secretary' AND e.month IN ({months}) AND {rng} GROUP BY e.org_id, e.month, e.indicator"]),
        # 实绩汇总: this year's monthly results reports of the subtree's villages, per counter
        ("fs_results", f"/api/v1/first-secretaries/results?org_id={{org}}&from={y}-01&to={today:%Y-%m}", [
            f"SELECT COUNT(*) FROM fs_reports r JOIN orgs o ON o.id = r.village_id WHERE {rng} AND r.month BETWEEN {y * 100 + 1} AND {month}",
            f"SELECT c.code, c.decimals, SUM(c.value), COUNT(DISTINCT r.village_id) FROM fs_report_counters c JOIN fs_reports r ON r.id = c.report_id "
            f"JOIN orgs o ON o.id = r.village_id WHERE {rng} AND r.month BETWEEN {y * 100 + 1} AND {month} GROUP BY c.code, c.decimals",
            f"SELECT b.subject_id, b.status, COUNT(*) FROM obligations b JOIN orgs o ON o.id = b.scope_org_id WHERE b.kind = 'fs.report' AND {rng} "
            f"AND b.period_start >= '{y}-01-01' AND b.period_start <= '{today.replace(day=1)}' GROUP BY b.subject_id, b.status",
            f"SELECT b.subject_id, b.period, b.status, c.name, o.name FROM obligations b JOIN orgs o ON o.id = b.scope_org_id "
            f"JOIN fs_assignments a ON a.id = b.subject_id JOIN cadres c ON c.id = a.cadre_id WHERE b.kind = 'fs.report' AND {rng} "
            f"AND b.period_start >= '{y}-01-01' AND b.period_start <= '{today.replace(day=1)}' AND b.status IN ('missed', 'due') "
            f"ORDER BY b.period_start, o.path LIMIT 200"]),
        # a closed campaign's results (the county's last year's 述职评议)
        ("review_results", "/reviews/{campaign}", [
            "SELECT s.reporter_id, s.rater_id, s.total_tenths FROM review_scores s WHERE s.campaign_id = {campaign}"]),
    ]


def profile_cases(today):
    """The dashboard pass's columns: members by join year (ten years) and by age band."""
    cols = []
    for y in range(today.year - 9, today.year + 1):
        cols.append(f", SUM(CASE WHEN m.join_date >= '{y}-01-01' AND m.join_date < '{y + 1}-01-01' THEN 1 ELSE 0 END)")
    month = today.replace(day=1)
    for lo, hi in ((0, 35), (36, 45), (46, 55), (56, 60), (61, 200)):
        a = month.replace(year=month.year - lo)
        z = month.replace(year=month.year - hi - 1)
        cols.append(f", SUM(CASE WHEN m.birth_month <= '{a}' AND m.birth_month > '{z}' THEN 1 ELSE 0 END)")
    return "".join(cols)


def load(port, api, url, conns, seconds):
    """`conns` connections on one report for `seconds` (bench/loadgen, pinned to core 1)."""
    import json
    import shutil
    root = os.path.dirname(HERE)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", os.path.join(HERE, "loadgen", "Cargo.toml"),
                    "--target-dir", os.path.join(root, "target")], check=True)
    fd, plan = tempfile.mkstemp(suffix=".tsv")
    with os.fdopen(fd, "w") as f:
        f.write("\t".join(["report", "1", "GET", url, "-", f"Cookie: {api.cookie}"]) + "\n")
    cmd = (["taskset", "-c", "1"] if shutil.which("taskset") else []) + [
        os.path.join(root, "target", "release", "dangjian-loadgen"), "--addr", f"127.0.0.1:{port}", "--plan", plan,
        "--connections", str(conns), "--duration", str(seconds), "--warmup", "1"]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    os.remove(plan)
    return out


def upper(path):
    return path[:-1] + chr(ord(path[-1]) + 1)


def raw_sqlite(db, sql, n):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.execute(sql).fetchall()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        con.execute(sql).fetchall()
        times.append((time.perf_counter() - t) * 1000)
    con.close()
    return statistics.median(times)


def raw_pg(url, sql, n):
    script = "\\timing on\n" + (sql + ";\n") * (n + 1)
    out = subprocess.run(["psql", url, "-X", "-q", "-o", "/dev/null"], input=script, capture_output=True, text=True).stdout
    times = [float(x) for x in re.findall(r"Time: ([0-9.]+) ms", out)][1:]
    return statistics.median(times) if times else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bin")
    ap.add_argument("url")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--conns", type=int, default=0)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--only")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server")
    args = ap.parse_args()
    env = dict(e.split("=", 1) for e in args.env)
    db = types.SimpleNamespace(url=args.url, workdir=tempfile.mkdtemp(prefix="dj-heavy-"))
    srv = Server(os.path.abspath(args.bin), db, env=env, preexec=lambda: pin(0)).start(wait=300)
    pin(1)
    today = datetime.date.today()
    rows, loaded = [], []
    try:
        s = {u: Api(srv.port, timeout=600).login(u) for u in ("city", "county")}
        scopes = []
        for u in ("city", "county"):
            me = s[u].call("GET", "/api/v1/me")[1]
            org = s[u].call("GET", f"/api/v1/orgs/{me['org_id']}")[1]
            scopes.append((u, me["org_id"], org["path"]))
        for user, org, path in scopes:
            # the scope's latest closed campaign, for its results
            campaigns = [x for x in s[user].call("GET", "/api/v1/reviews")[1] if x.get("status") == "closed"]
            campaign = campaigns[0]["id"] if campaigns else 0
            for name, tmpl, sqls in reports(today, path, upper(path)):
                if args.only and name not in args.only.split(","):
                    continue
                if "{campaign}" in tmpl and not campaign:
                    continue
                url = tmpl.format(org=org, campaign=campaign)
                sqls = [q.replace("{campaign}", str(campaign)) for q in sqls]
                c = s[user]
                status = None
                for _ in range(2):
                    status, _, _ = c.raw("GET", url)
                times = []
                for _ in range(args.n):
                    t = time.perf_counter()
                    status, _, _ = c.raw("GET", url)
                    times.append((time.perf_counter() - t) * 1000)
                times.sort()
                p50 = statistics.median(times)
                p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
                if args.url.startswith("sqlite"):
                    raw = sum(raw_sqlite(args.url.split("://", 1)[1], sql.replace("TRUE", "1"), args.n) for sql in sqls)
                else:
                    raw = sum(raw_pg(args.url, sql, args.n) for sql in sqls)
                rows.append((name, user, status, p50, p99, raw))
                print(f"{name:22s} {user:7s} {status} p50 {p50:8.1f} ms p99 {p99:8.1f} ms raw {raw:8.1f} ms ratio {p50 / raw if raw else float('nan'):5.1f}", flush=True)
                if args.conns:
                    loaded.append((name, user, load(srv.port, c, url, args.conns, args.seconds)))
                    a = loaded[-1][2]["all"]
                    print(f"    {args.conns} conns: {a['rps']:.1f}/s p50 {a['p50_ms']:.0f} ms p99 {a['p99_ms']:.0f} ms {loaded[-1][2]['status']}", flush=True)
        print()
        print("| report | scope | one client p50 | p99 | raw SQL p50 | ratio |")
        print("|---|---|---|---|---|---|")
        for name, user, status, p50, p99, raw in rows:
            print(f"| {name} | {user} | {p50:.1f} ms | {p99:.1f} ms | {raw:.1f} ms | {p50 / raw if raw else float('nan'):.1f}× |" + ("" if status == 200 else f" ({status})"))
        if loaded:
            print(f"\n| report | scope | {args.conns} connections: requests/s | p50 | p99 | answers |")
            print("|---|---|---|---|---|---|")
            for name, user, out in loaded:
                a = out["all"]
                print(f"| {name} | {user} | {a['rps']:.1f} | {a['p50_ms']:.0f} ms | {a['p99_ms']:.0f} ms | {out['status']} |")
        print(f"\nserver RSS {srv.rss_kb() // 1024} MB, peak {srv.rss_kb('VmHWM') // 1024} MB")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
