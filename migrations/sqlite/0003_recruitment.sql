-- 发展党员: the 25-step pipeline, its signatures, evaluations, publicity, documents, plans,
-- the holiday calendar, approval authority of organisations and 留党察看 on members.

ALTER TABLE orgs ADD COLUMN approval_authority INTEGER NOT NULL DEFAULT 0;
UPDATE orgs SET approval_authority = 1 WHERE kind IN ('committee', 'working_committee');
-- 受留党察看处分、尚未恢复党员权利
ALTER TABLE members ADD COLUMN under_watch INTEGER NOT NULL DEFAULT 0;

CREATE TABLE recruits (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs (id),
    name          TEXT NOT NULL,
    gender        TEXT NOT NULL,
    ethnicity     TEXT NOT NULL,
    birth_date    TEXT NOT NULL,
    id_enc        BLOB NOT NULL,
    id_idx        TEXT NOT NULL,
    id_masked     TEXT NOT NULL,
    phone_enc     BLOB,
    phone_masked  TEXT,
    key_version   INTEGER NOT NULL,
    education     TEXT NOT NULL,
    work_unit     TEXT NOT NULL,
    applied_on    TEXT NOT NULL,
    step          INTEGER NOT NULL,
    status        TEXT NOT NULL,
    channel       TEXT,
    activist_on   TEXT,
    candidate_on  TEXT,
    admitted_on   TEXT,
    probation_end TEXT,
    extended      INTEGER NOT NULL DEFAULT 0,
    full_on       TEXT,
    member_id     INTEGER REFERENCES members (id),
    -- the next deadline and what it is (kept current by every change)
    due_on        TEXT,
    due_what      TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX recruits_one_active ON recruits (id_idx) WHERE status = 'active';
CREATE INDEX recruits_org ON recruits (org_id, status, step);
CREATE INDEX recruits_due ON recruits (status, due_on);
CREATE INDEX recruits_member ON recruits (member_id);

CREATE TABLE recruit_entries (
    id           INTEGER PRIMARY KEY,
    recruit_id   INTEGER NOT NULL REFERENCES recruits (id),
    step         INTEGER NOT NULL,
    done_on      TEXT NOT NULL,
    data_json    TEXT NOT NULL,
    note         TEXT NOT NULL,
    required     TEXT NOT NULL,
    complete     INTEGER NOT NULL DEFAULT 0,
    digest       TEXT NOT NULL,
    recorded_by  INTEGER REFERENCES accounts (id),
    recorded_at  TEXT NOT NULL,
    corrects_id  INTEGER REFERENCES recruit_entries (id)
);
CREATE INDEX recruit_entries_recruit ON recruit_entries (recruit_id, step, id);
CREATE UNIQUE INDEX recruit_entries_one_pending ON recruit_entries (recruit_id) WHERE complete = 0;

CREATE TABLE recruit_signatures (
    id          INTEGER PRIMARY KEY,
    entry_id    INTEGER NOT NULL REFERENCES recruit_entries (id),
    signer_role TEXT NOT NULL,
    account_id  INTEGER REFERENCES accounts (id),
    signer_name TEXT NOT NULL,
    method      TEXT NOT NULL,
    signed_at   TEXT NOT NULL,
    UNIQUE (entry_id, signer_role)
);
CREATE INDEX recruit_signatures_account ON recruit_signatures (account_id, id);

CREATE TABLE recruit_people (
    recruit_id INTEGER NOT NULL REFERENCES recruits (id),
    entry_id   INTEGER NOT NULL REFERENCES recruit_entries (id),
    role       TEXT NOT NULL,
    member_id  INTEGER NOT NULL REFERENCES members (id),
    PRIMARY KEY (entry_id, member_id)
);
CREATE INDEX recruit_people_member ON recruit_people (member_id, role);

CREATE TABLE recruit_evaluations (
    id            INTEGER PRIMARY KEY,
    recruit_id    INTEGER NOT NULL REFERENCES recruits (id),
    evaluated_on  TEXT NOT NULL,
    org_score     INTEGER NOT NULL,
    mass_score    INTEGER NOT NULL,
    total_tenths  INTEGER NOT NULL,
    verdict       TEXT NOT NULL,
    status        TEXT NOT NULL,
    revisit_on    TEXT,
    revisit_note  TEXT,
    revisit_by    INTEGER REFERENCES accounts (id),
    recorded_by   INTEGER REFERENCES accounts (id),
    recorded_at   TEXT NOT NULL
);
CREATE INDEX recruit_evaluations_recruit ON recruit_evaluations (recruit_id, id);

CREATE TABLE recruit_publicity (
    id          INTEGER PRIMARY KEY,
    recruit_id  INTEGER NOT NULL REFERENCES recruits (id),
    before_step INTEGER NOT NULL,
    starts_on   TEXT NOT NULL,
    ends_on     TEXT NOT NULL,
    created_by  INTEGER REFERENCES accounts (id),
    created_at  TEXT NOT NULL
);
CREATE INDEX recruit_publicity_recruit ON recruit_publicity (recruit_id, before_step, id);
CREATE INDEX recruit_publicity_ends ON recruit_publicity (ends_on);

CREATE TABLE recruit_objections (
    id           INTEGER PRIMARY KEY,
    publicity_id INTEGER NOT NULL REFERENCES recruit_publicity (id),
    received_on  TEXT NOT NULL,
    content      TEXT NOT NULL,
    answer       TEXT,
    answered_on  TEXT,
    answered_by  INTEGER REFERENCES accounts (id)
);
CREATE INDEX recruit_objections_publicity ON recruit_objections (publicity_id);

CREATE TABLE blobs (
    digest TEXT PRIMARY KEY,
    size   INTEGER NOT NULL,
    data   BLOB NOT NULL
);

CREATE TABLE recruit_docs (
    id          INTEGER PRIMARY KEY,
    recruit_id  INTEGER NOT NULL REFERENCES recruits (id),
    step        INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    filename    TEXT NOT NULL,
    mime        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    digest      TEXT NOT NULL REFERENCES blobs (digest),
    uploaded_by INTEGER REFERENCES accounts (id),
    uploaded_at TEXT NOT NULL
);
CREATE INDEX recruit_docs_recruit ON recruit_docs (recruit_id, step, id);

CREATE TABLE calendar_days (
    day     TEXT PRIMARY KEY,
    working INTEGER NOT NULL,
    name    TEXT NOT NULL
);

CREATE TABLE recruit_plans (
    org_id INTEGER NOT NULL REFERENCES orgs (id),
    year   INTEGER NOT NULL,
    quota  INTEGER NOT NULL,
    PRIMARY KEY (org_id, year)
);
