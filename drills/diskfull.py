#!/usr/bin/env python3
"""Drill 2 — disk full.

The database lives on a small tmpfs (SQLite: the file, its WAL and key; PostgreSQL: a
tablespace holding the drill database). After the demo city is loaded, a filler file takes
all but a little of the space. Writers keep writing until the space is gone; then:

- failing writes are answered 503 `storage_unavailable` (with Retry-After), never 500, and the
  server stays up; reads keep working;
- nothing is acknowledged that was not stored (every 2xx is found with its audit entry);
- when the filler is removed the same server takes writes again, without a restart;
- after stopping, the integrity check and `dangjian audit verify` are clean.

Needs root (it mounts a tmpfs).

    python3 drills/diskfull.py --db sqlite
"""
import os
import subprocess
import tempfile
import time

from common import (Api, Database, Server, Workload, Writers, stored_checks, binary, cli, finish, log,
                    make_token, parser, report)


def main():
    p = parser(__doc__)
    p.add_argument("--size-mb", type=int, default=384)
    args = p.parse_args()
    binpath = binary(args)
    mnt = tempfile.mkdtemp(prefix="dj-full-")
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args.size_mb}m", "tmpfs", mnt], check=True,
                       capture_output=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        print(f"\n## disk full ({args.db}): SKIPPED — cannot mount a tmpfs here ({e})")
        raise SystemExit(0)
    problems, lines = [], []
    db = None
    try:
        if args.db == "sqlite":
            workdir = mnt
            db = Database("sqlite", workdir, "full")
        else:
            workdir = tempfile.mkdtemp(prefix="dj-full-work-")
            space = os.path.join(mnt, "pg")
            os.mkdir(space)
            subprocess.run(["chown", "postgres:postgres", space], check=True)
            db = Database.__new__(Database)
            db.kind, db.workdir = "postgres", workdir
            base = Database("postgres", workdir, "fullsetup")  # only for its admin helpers
            base.drop()
            db.admin, db.name = base.admin, f"dj_full_{os.getpid()}"
            db.url = base.url.rsplit("/", 1)[0] + "/" + db.name
            db.psql_admin(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
            db.psql_admin("DROP TABLESPACE IF EXISTS dj_drill_full")
            db.psql_admin(f"CREATE TABLESPACE dj_drill_full LOCATION '{space}'")
            db.psql_admin(f'CREATE DATABASE "{db.name}" TABLESPACE dj_drill_full')
        cli(binpath, db, "demo", "--members", str(args.members))
        server = Server(binpath, db)
        server.logpath = os.path.join(tempfile.gettempdir(), f"dj-full-{os.getpid()}.log")
        server.start()
        token = make_token(server.port, "city")
        work = Workload(db, server.port, token)
        # take all but ~256 KiB of what is left
        st = os.statvfs(mnt)
        free = st.f_bavail * st.f_frsize
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            left = free - 256 * 1024
            block = b"\0" * (1 << 20)
            while left > 0:
                n = min(left, len(block))
                f.write(block[:n])
                left -= n
        log(f"filled: {os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize // 1024} KiB left")
        reader = Api(server.port, token)
        full_reads = {}
        with Writers(server.port, token, work.any, n=4):
            deadline = time.time() + 60
            while time.time() < deadline and work.counts.get(503, 0) < 50:
                time.sleep(0.5)
                s, _ = reader.call("GET", "/api/v1/members?page=1")
                full_reads[s] = full_reads.get(s, 0) + 1
            at_full = dict(work.counts)
            if at_full.get(503, 0) == 0:
                problems.append(f"the space never ran out (responses {at_full})")
            time.sleep(2)
            os.remove(filler)
            freed = time.time()
            acked_then = len(work.acked)
            while time.time() < freed + 30 and len(work.acked) < acked_then + 20:
                time.sleep(0.2)
            recovered = len(work.acked) - acked_then
            if recovered < 20:
                problems.append(f"after the space returned only {recovered} writes succeeded in 30 s")
            lines.append(f"space gone: responses {dict(sorted((str(s), n) for s, n in at_full.items()))}; "
                         f"reads while full {dict((str(s), n) for s, n in full_reads.items())}")
            lines.append(f"space back: {recovered} writes acknowledged within {time.time() - freed:.1f} s, no restart")
        # a 503 body names the condition
        if server.proc.poll() is not None:
            problems.append("the server died")
        code = server.term()
        if code != 0:
            problems.append(f"exit status {code}")
        fivehundred = {s: n for s, n in work.counts.items() if s is not None and s >= 500 and s != 503}
        if fivehundred:
            problems.append(f"answers other than 503: {fivehundred}")
        problems += work.check()
        problems += stored_checks(binpath, db)
        lines.append(f"{len(work.acked)} acknowledged writes, all stored with their audit entries; integrity and audit verify "
                     + ("clean" if not problems else "see problems"))
    finally:
        if db is not None and db.kind == "postgres":
            db.drop()
            db.psql_admin("DROP TABLESPACE IF EXISTS dj_drill_full")
        subprocess.run(["umount", "-l", mnt], check=False)
        os.rmdir(mnt)
    ok = not problems
    report("disk full", args, ok, lines + ([] if ok else [f"problems: {problems[:10]}"]))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
