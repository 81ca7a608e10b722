-- 干部: the cadre register. A cadre is not a Party member record: a person with an
-- employing unit, a position and a rank, managed by an organisation department (干部管理权限,
-- `managed_by`, whose subtree sees and maintains the row). Linked to the roster when the
-- person is a member, and to an account when they file for themselves.
CREATE TABLE cadres (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    managed_by    INTEGER NOT NULL REFERENCES orgs (id),
    unit          TEXT NOT NULL,
    position      TEXT NOT NULL,
    rank          TEXT NOT NULL,
    category      TEXT NOT NULL,
    member_id     INTEGER REFERENCES members (id),
    account_id    INTEGER REFERENCES accounts (id),
    -- files a weekly work record (工作记实)
    weekly_record INTEGER NOT NULL DEFAULT 0,
    -- active, left
    status        TEXT NOT NULL CHECK (status IN ('active', 'left')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX cadres_managed ON cadres (managed_by, id);
CREATE UNIQUE INDEX cadres_account ON cadres (account_id) WHERE account_id IS NOT NULL;

-- Cadence obligations: "every week one X" as rows. One row per kind, subject and period,
-- made by the scheduler (idempotent: the unique key), fulfilled by the record that does it.
-- due: open; done: fulfilled by due_at; late: fulfilled after it; missed: open past missed_at.
CREATE TABLE obligations (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,
    subject_type  TEXT NOT NULL,
    subject_id    INTEGER NOT NULL,
    -- the organisation whose subtree sees the obligation
    scope_org_id  INTEGER NOT NULL REFERENCES orgs (id),
    period        TEXT NOT NULL,
    period_start  TEXT NOT NULL,
    period_end    TEXT NOT NULL,
    due_at        TEXT NOT NULL,
    missed_at     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('due', 'done', 'late', 'missed')),
    record_type   TEXT,
    record_id     INTEGER,
    fulfilled_at  TEXT,
    created_at    TEXT NOT NULL,
    UNIQUE (kind, subject_type, subject_id, period)
);
CREATE INDEX obligations_scope ON obligations (scope_org_id, kind, period_start);
CREATE INDEX obligations_open ON obligations (status, missed_at);

-- 工作记实: a cadre's weekly record (this week's work, next week's plan, how last week's
-- plan went). filed_at is when it was first filed: the week it claims and when it came are
-- both kept, so a record back-filled before an inspection shows as such.
CREATE TABLE work_logs (
    id             INTEGER PRIMARY KEY,
    cadre_id       INTEGER NOT NULL REFERENCES cadres (id),
    week_start     TEXT NOT NULL,
    done_json      TEXT NOT NULL,
    plan_json      TEXT NOT NULL,
    followup_json  TEXT NOT NULL,
    -- submitted, returned
    status         TEXT NOT NULL CHECK (status IN ('submitted', 'returned')),
    filed_at       TEXT NOT NULL,
    submitted_at   TEXT NOT NULL,
    -- fixed when filed (and when a returned record is filed again): a later rule change
    -- neither reopens nor closes a record early
    locks_at       TEXT NOT NULL,
    late           INTEGER NOT NULL,
    filed_by       INTEGER REFERENCES accounts (id),
    filer_name     TEXT NOT NULL,
    review_comment TEXT,
    reviewer_name  TEXT,
    reviewed_at    TEXT,
    version        INTEGER NOT NULL DEFAULT 1,
    UNIQUE (cadre_id, week_start)
);
CREATE INDEX work_logs_week ON work_logs (week_start, cadre_id);

-- After a record locks, it changes only by a signed addendum.
CREATE TABLE work_log_addenda (
    id         INTEGER PRIMARY KEY,
    log_id     INTEGER NOT NULL REFERENCES work_logs (id),
    body       TEXT NOT NULL,
    author_id  INTEGER REFERENCES accounts (id),
    author     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX work_log_addenda_log ON work_log_addenda (log_id);
