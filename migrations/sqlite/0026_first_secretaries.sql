-- 第一书记: cadres sent to villages. A round (批次) is run by an organisation department
-- (`org_id`, a committee); an assignment takes a cadre from nomination by the sending unit
-- through the department's decision to duty in a village, and ends by recall or at term end.
CREATE TABLE fs_rounds (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs (id),
    name        TEXT NOT NULL,
    year        INTEGER NOT NULL,
    -- open: nominations taken; closed: none any more
    status      TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_at  TEXT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE fs_assignments (
    id             INTEGER PRIMARY KEY,
    round_id       INTEGER NOT NULL REFERENCES fs_rounds (id),
    cadre_id       INTEGER NOT NULL REFERENCES cadres (id),
    -- province, city, county
    sending_level  TEXT NOT NULL,
    sending_unit   TEXT NOT NULL,
    -- nominated, returned (nomination not taken), on_duty, recalled, completed
    status         TEXT NOT NULL CHECK (status IN ('nominated', 'returned', 'on_duty', 'recalled', 'completed')),
    nominated_at   TEXT NOT NULL,
    nominated_by   INTEGER REFERENCES accounts (id),
    decided_at     TEXT,
    decided_by     INTEGER REFERENCES accounts (id),
    note           TEXT NOT NULL DEFAULT '',
    -- the last decision's reason (not taken, recalled, extended)
    decision_note  TEXT NOT NULL DEFAULT '',
    -- set at assignment
    village_id     INTEGER REFERENCES orgs (id),
    start_on       TEXT,
    term_months    INTEGER,
    ends_on        TEXT,
    liaison        TEXT NOT NULL DEFAULT '',
    team           TEXT NOT NULL DEFAULT '',
    -- the village's location for clock-ins, in millionths of a degree (GCJ-02 or WGS-84 as the
    -- phones report; the radius absorbs the offset)
    lat_e6         INTEGER,
    lng_e6         INTEGER,
    -- the village as found at assignment (star rating, members, collective income ...)
    baseline_json  TEXT NOT NULL DEFAULT '{}',
    ended_on       TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    version        INTEGER NOT NULL DEFAULT 1
);
-- a cadre is nominated or on duty in one place at a time
CREATE UNIQUE INDEX fs_assignments_current ON fs_assignments (cadre_id) WHERE status IN ('nominated', 'on_duty');
CREATE INDEX fs_assignments_round ON fs_assignments (round_id, status);
CREATE INDEX fs_assignments_village ON fs_assignments (village_id, status);

-- "3+1" 导师: 综合导师 (general, a county department's leader), 村级导师 (village, a
-- township's cadre), 实践导师 (practice, a former first secretary).
CREATE TABLE fs_tutors (
    id             INTEGER PRIMARY KEY,
    assignment_id  INTEGER NOT NULL REFERENCES fs_assignments (id),
    role           TEXT NOT NULL CHECK (role IN ('general', 'village', 'practice')),
    name           TEXT NOT NULL,
    unit           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    removed_at     TEXT
);
CREATE INDEX fs_tutors_assignment ON fs_tutors (assignment_id);

-- 打卡: a clock-in or -out. `at` is the instant the phone took it; `received_at` when it
-- reached the server (later for a check-in queued offline, marked `offline`). The position
-- and the photo are personal data: the position is kept encrypted, and both are purged after
-- the rule set's retention days (distance and verdict stay).
CREATE TABLE fs_checkins (
    id             INTEGER PRIMARY KEY,
    assignment_id  INTEGER NOT NULL REFERENCES fs_assignments (id),
    kind           TEXT NOT NULL CHECK (kind IN ('in', 'out')),
    at             TEXT NOT NULL,
    local_day      TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    offline        INTEGER NOT NULL,
    position_enc   BLOB,
    accuracy_m     INTEGER NOT NULL,
    distance_m     INTEGER NOT NULL,
    inside         INTEGER NOT NULL,
    photo          TEXT REFERENCES blobs (digest),
    purged_at      TEXT
);
CREATE INDEX fs_checkins_day ON fs_checkins (assignment_id, local_day);
CREATE INDEX fs_checkins_day_all ON fs_checkins (local_day, assignment_id);

-- 请假: a first secretary's leave, approved by the township up to the rule's days, by the
-- county beyond. `days` are the working days it covers (the platform calendar).
CREATE TABLE fs_leaves (
    id             INTEGER PRIMARY KEY,
    assignment_id  INTEGER NOT NULL REFERENCES fs_assignments (id),
    from_on        TEXT NOT NULL,
    to_on          TEXT NOT NULL,
    days           INTEGER NOT NULL,
    reason         TEXT NOT NULL,
    -- township, county: who approves
    approver       TEXT NOT NULL CHECK (approver IN ('township', 'county')),
    status         TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'refused', 'cancelled')),
    requested_at   TEXT NOT NULL,
    decided_at     TEXT,
    decided_by     INTEGER REFERENCES accounts (id),
    decision_note  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX fs_leaves_assignment ON fs_leaves (assignment_id, from_on);
CREATE INDEX fs_leaves_open ON fs_leaves (status, assignment_id);

-- 抽查 (四不两直): an unannounced check of whether the first secretary is in the village.
CREATE TABLE fs_spot_checks (
    id             INTEGER PRIMARY KEY,
    assignment_id  INTEGER NOT NULL REFERENCES fs_assignments (id),
    checked_on     TEXT NOT NULL,
    -- visit, phone, video
    method         TEXT NOT NULL,
    -- present, absent
    result         TEXT NOT NULL CHECK (result IN ('present', 'absent')),
    -- absent without approved leave that day
    flagged        INTEGER NOT NULL,
    note           TEXT NOT NULL,
    checked_by     INTEGER REFERENCES accounts (id),
    checker_name   TEXT NOT NULL,
    created_at     TEXT NOT NULL
);
CREATE INDEX fs_spot_checks_assignment ON fs_spot_checks (assignment_id, checked_on);
