-- Foundation: organisations, members, transfers, accounts, sessions, rule sets, audit.
-- Dates are ISO-8601 TEXT (YYYY-MM-DD), timestamps RFC 3339 TEXT in UTC.

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    ts          TEXT NOT NULL,
    actor_id    INTEGER,
    actor_name  TEXT NOT NULL,
    role        TEXT NOT NULL,
    org_id      INTEGER,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    before_json TEXT NOT NULL,
    after_json  TEXT NOT NULL,
    ip          TEXT NOT NULL
);
CREATE INDEX audit_object ON audit_log (object_type, object_id, seq);
CREATE INDEX audit_actor ON audit_log (actor_id, seq);
CREATE INDEX audit_action ON audit_log (action, seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE orgs (
    id             INTEGER PRIMARY KEY,
    parent_id      INTEGER REFERENCES orgs (id),
    path           TEXT NOT NULL UNIQUE,
    depth          INTEGER NOT NULL,
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    level          TEXT NOT NULL,
    region_code    TEXT,
    established_on TEXT,
    term_start     TEXT,
    has_committee  INTEGER NOT NULL DEFAULT 0,
    committee_size INTEGER NOT NULL DEFAULT 0,
    sort           INTEGER NOT NULL DEFAULT 0,
    dissolved_at   TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    version        INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX orgs_parent ON orgs (parent_id, sort, id);
CREATE INDEX orgs_kind ON orgs (kind);

CREATE TABLE members (
    id                 INTEGER PRIMARY KEY,
    org_id             INTEGER NOT NULL REFERENCES orgs (id),
    group_id           INTEGER REFERENCES orgs (id),
    name               TEXT NOT NULL,
    name_pinyin        TEXT NOT NULL,
    name_initials      TEXT NOT NULL,
    gender             TEXT NOT NULL,
    ethnicity          TEXT NOT NULL,
    birth_date         TEXT NOT NULL,
    id_enc             BLOB NOT NULL,
    id_idx             TEXT NOT NULL UNIQUE,
    id_masked          TEXT NOT NULL,
    phone_enc          BLOB,
    phone_idx          TEXT,
    phone_masked       TEXT,
    key_version        INTEGER NOT NULL,
    education          TEXT NOT NULL,
    work_unit          TEXT NOT NULL,
    region_code        TEXT NOT NULL,
    join_date          TEXT NOT NULL,
    full_date          TEXT,
    status             TEXT NOT NULL,
    grid_role          TEXT,
    mobile_destination TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    version            INTEGER NOT NULL DEFAULT 1
);
-- Covers the subtree aggregations of the dashboard (status, gender, education, dates).
CREATE INDEX members_org ON members (org_id, status, gender, education, join_date, birth_date);
CREATE INDEX members_initials ON members (name_initials);
CREATE INDEX members_pinyin ON members (name_pinyin);
CREATE INDEX members_name ON members (name);
CREATE INDEX members_phone ON members (phone_idx);

CREATE TABLE transfers (
    id          INTEGER PRIMARY KEY,
    member_id   INTEGER NOT NULL REFERENCES members (id),
    from_org_id INTEGER NOT NULL REFERENCES orgs (id),
    to_org_id   INTEGER NOT NULL REFERENCES orgs (id),
    reason      TEXT NOT NULL,
    status      TEXT NOT NULL,
    sent_by     INTEGER NOT NULL,
    sent_at     TEXT NOT NULL,
    decided_by  INTEGER,
    decided_at  TEXT,
    note        TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX transfers_one_open ON transfers (member_id) WHERE status = 'sent';
CREATE INDEX transfers_to ON transfers (to_org_id, status);
CREATE INDEX transfers_from ON transfers (from_org_id, status);

CREATE TABLE accounts (
    id                   INTEGER PRIMARY KEY,
    username             TEXT NOT NULL UNIQUE,
    display_name         TEXT NOT NULL,
    org_id               INTEGER NOT NULL REFERENCES orgs (id),
    member_id            INTEGER REFERENCES members (id),
    password_hash        TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 1,
    disabled             INTEGER NOT NULL DEFAULT 0,
    failed_count         INTEGER NOT NULL DEFAULT 0,
    locked_until         TEXT,
    totp_secret_enc      BLOB,
    totp_enabled         INTEGER NOT NULL DEFAULT 0,
    totp_last_step       INTEGER NOT NULL DEFAULT 0,
    locale               TEXT NOT NULL DEFAULT 'zh-CN',
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

CREATE TABLE account_roles (
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    role       TEXT NOT NULL,
    PRIMARY KEY (account_id, role)
);

CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    csrf         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    totp_pending INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);

CREATE TABLE rule_sets (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs (id),
    kind        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    values_json TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  INTEGER,
    UNIQUE (org_id, kind, version)
);
