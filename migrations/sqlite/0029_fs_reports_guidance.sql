-- 月度实绩报告: a first secretary's report of a month — the month's results counters (typed by
-- the rule set's catalogue, kept as rows so that they sum up the tree), the projects under way
-- and the problems met. One per posting and month; filed again, it replaces the earlier one
-- until the month's scores are closed (the audit log keeps every version).
CREATE TABLE fs_reports (
    id             INTEGER PRIMARY KEY,
    assignment_id  INTEGER NOT NULL REFERENCES fs_assignments (id),
    village_id     INTEGER NOT NULL REFERENCES orgs (id),
    -- yyyymm
    month          INTEGER NOT NULL,
    projects       TEXT NOT NULL,
    problems       TEXT NOT NULL,
    filed_by       INTEGER REFERENCES accounts (id),
    filed_at       TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    version        INTEGER NOT NULL DEFAULT 1,
    UNIQUE (assignment_id, month)
);
CREATE INDEX fs_reports_month ON fs_reports (month, village_id);

-- A counter's value, in its smallest unit (the value × 10^decimals of the catalogue entry
-- it was filed under, kept with it so that a later catalogue change never rereads it).
CREATE TABLE fs_report_counters (
    report_id  INTEGER NOT NULL REFERENCES fs_reports (id),
    code       TEXT NOT NULL,
    value      INTEGER NOT NULL CHECK (value >= 0),
    decimals   INTEGER NOT NULL,
    PRIMARY KEY (report_id, code)
);

-- 导师指导: a session of one of the "3+1" tutors with the first secretary, recorded by the
-- first secretary or the round's department. Kept as entered (the audit log has who and when).
CREATE TABLE fs_guidance (
    id             INTEGER PRIMARY KEY,
    assignment_id  INTEGER NOT NULL REFERENCES fs_assignments (id),
    tutor_id       INTEGER NOT NULL REFERENCES fs_tutors (id),
    held_on        TEXT NOT NULL,
    -- visit, phone, meeting, online
    method         TEXT NOT NULL,
    topic          TEXT NOT NULL,
    content        TEXT NOT NULL,
    recorded_by    INTEGER REFERENCES accounts (id),
    recorded_at    TEXT NOT NULL
);
CREATE INDEX fs_guidance_assignment ON fs_guidance (assignment_id, held_on);
