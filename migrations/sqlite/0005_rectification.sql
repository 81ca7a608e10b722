-- 整改台账 / 销号管理: problems found by reviews, inspections, self-checks, visits and spot
-- checks, each owned by an organisation and closed only by a verifier of the supervising
-- organisation; 约谈 records with their follow-up items.

CREATE TABLE rect_items (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs (id),
    supervisor_id INTEGER NOT NULL REFERENCES orgs (id),
    source        TEXT NOT NULL,
    source_ref    TEXT,
    source_note   TEXT NOT NULL,
    owner         TEXT NOT NULL,
    problem       TEXT NOT NULL,
    measures      TEXT NOT NULL,
    plan          TEXT NOT NULL,
    opened_on     TEXT NOT NULL,
    deadline      TEXT NOT NULL,
    extensions    INTEGER NOT NULL DEFAULT 0,
    -- open, pending (close-out requested), closed
    status        TEXT NOT NULL,
    requested_by  INTEGER REFERENCES accounts (id),
    closed_on     TEXT,
    created_by    INTEGER REFERENCES accounts (id),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX rect_items_org ON rect_items (org_id, status, deadline);
CREATE INDEX rect_items_supervisor ON rect_items (supervisor_id, status);
CREATE INDEX rect_items_due ON rect_items (status, deadline);
CREATE INDEX rect_items_source ON rect_items (source, source_ref);

CREATE TABLE rect_updates (
    id          INTEGER PRIMARY KEY,
    item_id     INTEGER NOT NULL REFERENCES rect_items (id),
    -- progress, request, pass, reject, extend
    kind        TEXT NOT NULL,
    done_on     TEXT NOT NULL,
    note        TEXT NOT NULL,
    account_id  INTEGER REFERENCES accounts (id),
    author      TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX rect_updates_item ON rect_updates (item_id);

CREATE TABLE rect_docs (
    id          INTEGER PRIMARY KEY,
    item_id     INTEGER NOT NULL REFERENCES rect_items (id),
    update_id   INTEGER NOT NULL REFERENCES rect_updates (id),
    filename    TEXT NOT NULL,
    mime        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    digest      TEXT NOT NULL REFERENCES blobs (digest),
    uploaded_at TEXT NOT NULL
);
CREATE INDEX rect_docs_item ON rect_docs (item_id);

CREATE TABLE interviews (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES orgs (id),
    interviewee  TEXT NOT NULL,
    interviewer  TEXT NOT NULL,
    reason       TEXT NOT NULL,
    source       TEXT NOT NULL,
    source_ref   TEXT,
    planned_on   TEXT NOT NULL,
    -- planned, held
    status       TEXT NOT NULL,
    held_on      TEXT,
    minutes      TEXT,
    created_by   INTEGER REFERENCES accounts (id),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX interviews_org ON interviews (org_id, status);
