#!/usr/bin/env python3
"""Drill 4 — backup and restore under load.

Writers run while `dangjian backup` copies the live database (SQLite `VACUUM INTO`, PostgreSQL
`pg_dump -Fc`). The copy is restored beside it (SQLite: the file and its data key;
PostgreSQL: `pg_restore` into a new database) and must pass the integrity check and
`dangjian audit verify`, and hold every write acknowledged before the backup began, each with
its audit entry. Repeated `--rounds` times while the writers keep going. Last, the canary check: none of the
ID numbers and phones the writers sent is in clear in the database file, its WAL, the backups
(a PostgreSQL dump is read as SQL text) or the server's debug log.

    python3 drills/backup.py --db sqlite --rounds 3
"""
import os
import shutil
import subprocess
import time

from common import (Database, Server, Workload, Writers, stored_checks, cli, find_in_clear, finish, log,
                    make_token, parser, prepare, report)


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
    # debug logging, so that the canary check below reads as much of the log as there can be
    server = Server(binpath, db, env={"DANGJIAN_LOG": "debug"}).start()
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
            found += stored_checks(binpath, copy, anchor=os.path.join(workdir, f"restore{r}.anchor"))
            entries = copy.scalar("SELECT COUNT(*) FROM audit_log")
            lines.append(f"round {r}: backup took {took:.1f} s with {during} writes acknowledged meanwhile; "
                         f"copy holds all {before} writes acknowledged before it began; {entries} audit entries verified")
            log(lines[-1])
            problems += [f"round {r}: {f}" for f in found]
            copy.drop()
            if problems:
                break
    server.term()
    # The canaries: no ID number or phone the writers sent is in clear in the database files,
    # the WAL, the backups or the server's log.
    files = [server.logpath] + [os.path.join(workdir, f) for f in os.listdir(workdir)
                                if f.startswith(("backup", "drill")) or f.endswith((".db", ".db-wal"))]
    if db.kind == "postgres":
        # the database's own files and the server's WAL, after a checkpoint wrote them out
        db.psql_admin("CHECKPOINT")
        datadir = db.rows("SHOW data_directory")[0][0]
        oid = db.rows(f"SELECT oid FROM pg_database WHERE datname = '{db.name}'")[0][0]
        for sub in (os.path.join(datadir, "base", oid), os.path.join(datadir, "pg_wal")):
            files += [os.path.join(sub, f) for f in sorted(os.listdir(sub)) if os.path.isfile(os.path.join(sub, f))]
    texts = []
    for f in list(files):
        if f.endswith(".dump"):
            text = f + ".sql"
            subprocess.run(["pg_restore", "-f", text, f], check=True)
            texts.append(text)
    leaked = find_in_clear(work.canaries, files + texts)
    if leaked:
        problems.append(f"personal numbers in clear: {leaked[:5]}")
    lines.append(f"{len(work.canaries)} ID numbers and phones sent; none in clear in {len(files + texts)} files "
                 "(database, WAL, backups, debug log)" if not leaked else f"{len(leaked)} found in clear")
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
