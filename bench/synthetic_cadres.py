#!/usr/bin/env python3
"""Adds N synthetic weekly reporters to the first county of a SQLite demo database, each with
the 52 weeks before this one: 5% missed, 7% filed late, the rest on time (records and their
obligations as the platform writes them). For the 工作记实 rows of bench/heavy.py at scale.

    python3 bench/synthetic_cadres.py DIR/city.db 3000
"""
import datetime
import json
import random
import sqlite3
import sys


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    db = sqlite3.connect(path)
    c = db.cursor()
    county = c.execute("SELECT MIN(id) FROM orgs WHERE level = 'county' AND kind = 'committee'").fetchone()[0]
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    today = datetime.date.today()
    monday = today - datetime.timedelta(days=today.weekday())
    rnd = random.Random(7)
    done = json.dumps([{"text": "走访联系村两委班子", "party": False}, {"text": "讲专题党课", "party": True}], ensure_ascii=False)
    plan = json.dumps([{"text": "督导项目进度", "party": False}], ensure_ascii=False)
    fmt = lambda t: t.strftime("%Y-%m-%d %H:%M:%S+00:00")  # noqa: E731
    ob = ("INSERT INTO obligations (kind, subject_type, subject_id, scope_org_id, period, period_start, period_end, due_at, "
          "missed_at, status, record_type, record_id, fulfilled_at, created_at) VALUES ('work_log.weekly', 'cadre', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    for i in range(n):
        c.execute("INSERT INTO cadres (name, managed_by, unit, position, rank, category, weekly_record, status, created_at, updated_at) "
                  "VALUES (?, ?, ?, '副局长', 'section_deputy', 'section', 1, 'active', ?, ?)",
                  (f"合成干部{i}", county, f"县第{i % 40}局", fmt(now - datetime.timedelta(days=400)), fmt(now)))
        cid = c.lastrowid
        for k in range(1, 53):
            m = monday - datetime.timedelta(days=7 * k)
            key = "%d-W%02d" % m.isocalendar()[:2]
            # Monday 12:00 Beijing time of the next week
            due = datetime.datetime.combine(m + datetime.timedelta(days=7), datetime.time(4, 0))
            span = (cid, county, key, str(m), str(m + datetime.timedelta(days=6)), fmt(due), fmt(due + datetime.timedelta(days=7)))
            r = rnd.random()
            if r < 0.05:
                c.execute(ob, span + ("missed", None, None, None, fmt(due)))
                continue
            late = r < 0.12
            filed = due + (datetime.timedelta(hours=30) if late else -datetime.timedelta(hours=20))
            c.execute("INSERT INTO work_logs (cadre_id, week_start, done_json, plan_json, followup_json, status, filed_at, submitted_at, "
                      "locks_at, late, filer_name) VALUES (?, ?, ?, ?, '[]', 'submitted', ?, ?, ?, ?, '合成')",
                      (cid, str(m), done, plan, fmt(filed), fmt(filed), fmt(filed + datetime.timedelta(days=7)), 1 if late else 0))
            c.execute(ob, span + ("late" if late else "done", "work_log", c.lastrowid, fmt(filed), fmt(due)))
    db.commit()
    c.execute("ANALYZE")
    print(c.execute("SELECT (SELECT COUNT(*) FROM cadres), (SELECT COUNT(*) FROM work_logs), (SELECT COUNT(*) FROM obligations)").fetchone())


if __name__ == "__main__":
    main()
