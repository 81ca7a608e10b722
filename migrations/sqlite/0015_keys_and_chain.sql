-- Keys and the keyed audit chain.
--
-- key_checks: a check value per data-key version (HMAC-SM3 of a fixed text), so that a wrong
-- or missing key is refused at start instead of writing new data under it.
CREATE TABLE key_checks (
    version     INTEGER PRIMARY KEY,
    check_value TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- The chain's head carries an HMAC of (seq, hash) under the chain key: a head rewound to an
-- earlier entry (truncation) needs a MAC nobody without the key can make.
ALTER TABLE audit_head ADD COLUMN mac TEXT NOT NULL DEFAULT '';

-- From which sequence number on entries are keyed (HMAC-SM3; those before it, written before
-- keying, are plain SM3 and sealed by the first keyed entry's link), with its own MAC.
CREATE TABLE audit_meta (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    keyed_from INTEGER NOT NULL,
    mac        TEXT NOT NULL
);

-- An entry's personal fields as first written, encrypted and bound to the entry, when its
-- stored JSON was redacted (masks widened after the fact): the chain is checked on these.
ALTER TABLE audit_log ADD COLUMN before_enc BLOB;
ALTER TABLE audit_log ADD COLUMN after_enc BLOB;

-- Each verification of the chain: at start, on the schedule, or asked for.
CREATE TABLE audit_checks (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    ok            INTEGER NOT NULL,
    entries       INTEGER NOT NULL,
    first_bad_seq INTEGER,
    reason        TEXT NOT NULL,
    trigger_name  TEXT NOT NULL
);

-- One-time upgrades of stored data done at start by the program (they need the data key):
-- each runs until it has recorded itself here.
CREATE TABLE upgrades (
    name    TEXT PRIMARY KEY,
    done_at TEXT NOT NULL,
    note    TEXT NOT NULL
);

-- The scheduler's jobs: when each is due, who holds it (a lease, so that one of several
-- server processes runs it, and a crashed run is taken over when its lease ends), and how its
-- last run went.
CREATE TABLE jobs (
    name             TEXT PRIMARY KEY,
    next_due_at      TEXT NOT NULL,
    lease_owner      TEXT,
    lease_until      TEXT,
    last_started_at  TEXT,
    last_finished_at TEXT,
    last_ok          INTEGER,
    last_note        TEXT NOT NULL DEFAULT '',
    runs             INTEGER NOT NULL DEFAULT 0
);
