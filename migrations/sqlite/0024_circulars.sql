-- 通知公告: notices an organisation sends down its tree, with 签收 by each receiving
-- organisation and read receipts of members. The audience is resolved when the notice is
-- published: one row per receiving organisation (`circular_targets`), so who has received it
-- is a list the sender can read and remind. A notice to the members of a subtree has that
-- subtree's root as its one target and is read by the members whose branch is under it.
CREATE TABLE circulars (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs (id),
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    -- subtree, children, orgs, members
    audience      TEXT NOT NULL CHECK (audience IN ('subtree', 'children', 'orgs', 'members')),
    needs_receipt INTEGER NOT NULL DEFAULT 0,
    deadline      TEXT,
    -- published, withdrawn
    status        TEXT NOT NULL,
    created_by    INTEGER REFERENCES accounts (id),
    sender_name   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    withdrawn_at  TEXT,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX circulars_org ON circulars (org_id, id);

CREATE TABLE circular_targets (
    circular_id INTEGER NOT NULL REFERENCES circulars (id),
    org_id      INTEGER NOT NULL REFERENCES orgs (id),
    -- the organisation's 签收: by whom and when
    received_by INTEGER REFERENCES accounts (id),
    receiver    TEXT,
    received_at TEXT,
    reminded_at TEXT,
    reminders   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (circular_id, org_id)
);
CREATE INDEX circular_targets_org ON circular_targets (org_id, circular_id);

-- a member's (or any account's) reading of a notice
CREATE TABLE circular_reads (
    circular_id INTEGER NOT NULL REFERENCES circulars (id),
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    read_at     TEXT NOT NULL,
    PRIMARY KEY (circular_id, account_id)
);

CREATE TABLE circular_files (
    id          INTEGER PRIMARY KEY,
    circular_id INTEGER NOT NULL REFERENCES circulars (id),
    filename    TEXT NOT NULL,
    mime        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    digest      TEXT NOT NULL REFERENCES blobs (digest)
);
CREATE INDEX circular_files_circular ON circular_files (circular_id);
