#!/usr/bin/env python3
"""Drill 4 — backup and restore under load.

Writers run while `dangjian backup` copies the live database (SQLite `VACUUM INTO`, PostgreSQL
`pg_dump -Fc`). The copy is restored beside it (SQLite: the file and its data key;
PostgreSQL: `pg_restore` into a new database) and must pass the integrity check and
`dangjian audit verify`, and hold every write acknowledged before the backup began, each with
its audit entry. Repeated `--rounds` times while the writers keep going.

    python3 drills/backup.py --db sqlite --rounds 3
"""
import os
import shutil
import subprocess
import time

from common import (Database, Server, Workload, Writers, audit_verify, cli, finish, log, make_token,
                    parser, prepare, report)


def restore(db, backup_file, workdir, r):
    if db.kind == "sqlite":
        copy = Database("sqlite", workdir, f"restored{r}")
        shutil.copy(backup_file, copy.path)
        if os.path.exists(db.path + ".key"):
            shutil.copy(db.path + ".key", copy.path + ".key")
        return copy
    copy = Database("postgres", workdir, f"restored{r}")
    subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "-d", copy.url, backup_file],
                   check=True, capture_output=True)
    return copy


def main():
    p = parser(__doc__)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    binpath, workdir, db = prepare(args, "backup")
    server = Server(binpath, db).start()
    token = make_token(server.port, "city")
    work = Workload(db, server.port, token)
    problems, lines = [], []
    with Writers(server.port, token, work.any, n=4):
        for r in range(1, args.rounds + 1):
            time.sleep(2)
            before = len(work.acked)
            target = os.path.join(workdir, f"backup{r}.{'db' if db.kind == 'sqlite' else 'dump'}")
            t = time.time()
            cli(binpath, db, "backup", target)
            took = time.time() - t
            during = len(work.acked) - before
            copy = restore(db, target, workdir, r)
            found = work.check(db=copy, upto=before)
            bad = copy.integrity()
            if bad:
                found.append(bad)
            bad = audit_verify(binpath, copy)
            if bad:
                found.append(f"audit verify of the copy: {bad}")
            entries = copy.scalar("SELECT COUNT(*) FROM audit_log")
            lines.append(f"round {r}: backup took {took:.1f} s with {during} writes acknowledged meanwhile; "
                         f"copy holds all {before} writes acknowledged before it began; {entries} audit entries verified")
            log(lines[-1])
            problems += [f"round {r}: {f}" for f in found]
            copy.drop()
            if problems:
                break
    server.stop()
    fivexx = {s: n for s, n in work.counts.items() if s is not None and s >= 500}
    if fivexx:
        problems.append(f"server errors during the backups: {fivexx}")
    ok = not problems
    report("backup and restore under load", args, ok, lines + [
        "integrity check and audit verify clean on every restored copy" if ok else f"problems: {problems[:10]}"])
    finish(args, db, workdir, ok)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
