-- 向阳计划: people recommended into one of three talent pools (excellent youth, skilled
-- workers, excellent women) through one of three channels, followed up until they apply.

CREATE TABLE talents (
    id             INTEGER PRIMARY KEY,
    org_id         INTEGER NOT NULL REFERENCES orgs (id),
    pool           TEXT NOT NULL,
    channel        TEXT NOT NULL,
    name           TEXT NOT NULL,
    gender         TEXT NOT NULL,
    birth_date     TEXT NOT NULL,
    id_enc         BLOB NOT NULL,
    id_idx         TEXT NOT NULL,
    id_masked      TEXT NOT NULL,
    phone_enc      BLOB,
    phone_masked   TEXT,
    key_version    INTEGER NOT NULL,
    work_unit      TEXT NOT NULL,
    recommender    TEXT NOT NULL,
    recommended_on TEXT NOT NULL,
    reason         TEXT NOT NULL,
    -- tracking, applied, withdrawn
    status         TEXT NOT NULL,
    recruit_id     INTEGER REFERENCES recruits (id),
    last_contact   TEXT,
    due_on         TEXT,
    closed_note    TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    version        INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX talents_one_tracking ON talents (id_idx) WHERE status = 'tracking';
CREATE INDEX talents_org ON talents (org_id, status, pool, channel);
CREATE INDEX talents_due ON talents (status, due_on);

CREATE TABLE talent_contacts (
    id          INTEGER PRIMARY KEY,
    talent_id   INTEGER NOT NULL REFERENCES talents (id),
    done_on     TEXT NOT NULL,
    note        TEXT NOT NULL,
    recorded_by INTEGER REFERENCES accounts (id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX talent_contacts_talent ON talent_contacts (talent_id);
