"""第一书记打卡 under load: the demo first secretary (`firstsec`) clocks in and out through the
API (multipart: position and a photo, each photo different, so each is a new stored file) —
first one client for --n requests, then --conns clients at once for --seconds — next to the
same row written by the raw SQL (one INSERT per transaction, Python's sqlite3, same database,
same run; the rows are removed afterwards).

    python3 bench/checkins.py BIN sqlite:///path/city.db [--n 50] [--conns 32] [--seconds 10]

Prints one client's p50/p99, the raw insert's p50 and the ratio; then the loaded figures.
"""
import argparse
import datetime
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "drills"))
from common import Api, Server, make_token  # noqa: E402


def photo(rng):
    """A small JPEG as the server's checks walk it, with random scan data."""
    head = bytes([0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00,
                  0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00])
    return head + bytes(rng.randrange(0, 0xFE) for _ in range(2048)) + bytes([0xFF, 0xD9])


def form(fields, data):
    b = "----djbenchboundary"
    out = b""
    for k, v in fields.items():
        out += f"--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
    out += f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".encode()
    out += data + f"\r\n--{b}--\r\n".encode()
    return f"multipart/form-data; boundary={b}", out


def clock(api, rng, at, inside=True):
    lat, lng = at
    d = 0.001 if inside else 0.05
    ct, body = form({"kind": rng.choice(["in", "out"]), "lat": f"{lat + rng.uniform(-d, d):.6f}",
                     "lng": f"{lng:.6f}", "accuracy": "15"}, photo(rng))
    t = time.perf_counter()
    s, _, _ = api.raw("POST", "/api/v1/first-secretaries/checkins", body, {"Content-Type": ct})
    return s, (time.perf_counter() - t) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bin")
    ap.add_argument("url")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    if not args.url.startswith("sqlite://"):
        raise SystemExit("the raw baseline reads SQLite; run against a SQLite database")
    path = args.url.split("://", 1)[1]
    con = sqlite3.connect(path)
    row = con.execute("SELECT a.id, a.lat_e6, a.lng_e6 FROM fs_assignments a JOIN cadres c ON c.id = a.cadre_id "
                      "JOIN accounts ac ON ac.id = c.account_id WHERE ac.username = 'firstsec' AND a.status = 'on_duty'").fetchone()
    if not row:
        raise SystemExit("no first secretary on duty for the demo account firstsec")
    aid, at = row[0], (row[1] / 1e6, row[2] / 1e6)
    before = con.execute("SELECT COALESCE(MAX(id), 0) FROM fs_checkins").fetchone()[0]
    con.close()
    db = types.SimpleNamespace(url=args.url, workdir=tempfile.mkdtemp(prefix="dj-checkins-"))
    srv = Server(os.path.abspath(args.bin), db).start(wait=300)
    rng = random.Random(7)
    try:
        token = make_token(srv.port, "firstsec", name="bench")
        api = Api(srv.port, token)
        for _ in range(3):
            clock(api, rng, at)
        one = []
        for i in range(args.n):
            s, ms = clock(api, rng, at, inside=i % 5 != 0)
            assert s == 200, s
            one.append(ms)
        one.sort()
        p50 = statistics.median(one)
        p99 = one[min(len(one) - 1, int(len(one) * 0.99))]
        # the raw row: the same INSERT, one transaction each, on the same database
        raw = []
        c = sqlite3.connect(path, timeout=30)
        c.execute("PRAGMA journal_mode=WAL")
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        day = datetime.date.today().isoformat()
        for _ in range(args.n):
            t = time.perf_counter()
            c.execute("BEGIN")
            c.execute("INSERT INTO fs_checkins (assignment_id, kind, at, local_day, received_at, offline, position_enc, accuracy_m, distance_m, inside) "
                      "VALUES (?, 'in', ?, ?, ?, 0, ?, 15, 100, 1)", (aid, now, day, now, os.urandom(48)))
            c.execute("COMMIT")
            raw.append((time.perf_counter() - t) * 1000)
        raw_p50 = statistics.median(raw)
        print(f"one client: p50 {p50:.1f} ms p99 {p99:.1f} ms; raw INSERT p50 {raw_p50:.2f} ms; ratio {p50 / raw_p50:.1f}x", flush=True)
        # conns clients at once
        lat, stat, lock = [], {}, threading.Lock()
        stop = time.time() + args.seconds
        tokens = [token] * args.conns

        def worker(k):
            a = Api(srv.port, tokens[k])
            r = random.Random(k)
            while time.time() < stop:
                s, ms = clock(a, r, at, inside=r.random() > 0.2)
                with lock:
                    lat.append(ms)
                    stat[s] = stat.get(s, 0) + 1
        ts = [threading.Thread(target=worker, args=(k,)) for k in range(args.conns)]
        t0 = time.time()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        el = time.time() - t0
        lat.sort()
        print(f"{args.conns} clients for {args.seconds} s: {len(lat) / el:.1f} clock-ins/s, p50 {statistics.median(lat):.0f} ms, "
              f"p99 {lat[min(len(lat) - 1, int(len(lat) * 0.99))]:.0f} ms, answers {stat}", flush=True)
        print(f"server RSS {srv.rss_kb() // 1024} MB, peak {srv.rss_kb('VmHWM') // 1024} MB")
    finally:
        srv.stop()
        c = sqlite3.connect(path, timeout=30)
        c.execute("DELETE FROM fs_checkins WHERE id > ? AND photo IS NULL", (before,))
        c.commit()


if __name__ == "__main__":
    main()
