-- 积分管理 and 星级党支部. Points are entries only ("一事一计分"): a total, a board or a
-- ranking is always a sum over entries, never a stored counter that could drift. A
-- correction is a reversing entry; a retried request with the same idempotency key applies
-- once. A closed month (一月一评分) freezes its entries.

-- Lock rows: one per subject that has ever been awarded (its update serialises the awards
-- of that subject, so a cap cannot be overrun by two awards racing) and one per organisation
-- that closes months (`close`: a close and a change of that month never interleave).
CREATE TABLE point_locks (
    subject    TEXT NOT NULL,
    subject_id INTEGER NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (subject, subject_id)
);

CREATE TABLE point_claims (
    id            INTEGER PRIMARY KEY,
    subject       TEXT NOT NULL,
    member_id     INTEGER REFERENCES members (id),
    org_id        INTEGER NOT NULL REFERENCES orgs (id),
    indicator     TEXT NOT NULL,
    points        INTEGER NOT NULL,
    done_on       TEXT NOT NULL,
    note          TEXT NOT NULL,
    evidence      TEXT,
    evidence_name TEXT,
    -- pending, approved, rejected
    status        TEXT NOT NULL,
    submitted_by  INTEGER REFERENCES accounts (id),
    submitted_at  TEXT NOT NULL,
    decided_by    INTEGER REFERENCES accounts (id),
    decided_at    TEXT,
    decision_note TEXT,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX point_claims_org ON point_claims (org_id, status, done_on);
CREATE INDEX point_claims_member ON point_claims (member_id, id);

CREATE TABLE point_entries (
    id              INTEGER PRIMARY KEY,
    -- member, branch, secretary
    subject         TEXT NOT NULL,
    -- the member (member and secretary subjects)
    member_id       INTEGER REFERENCES members (id),
    -- the branch the points count for
    org_id          INTEGER NOT NULL REFERENCES orgs (id),
    indicator       TEXT NOT NULL,
    category        TEXT NOT NULL,
    points          INTEGER NOT NULL,
    done_on         TEXT NOT NULL,
    -- YYYYMM of done_on: months, quarters and years are ranges of it
    month           INTEGER NOT NULL,
    note            TEXT NOT NULL,
    evidence        TEXT,
    evidence_name   TEXT,
    claim_id        INTEGER REFERENCES point_claims (id),
    reverses_id     INTEGER REFERENCES point_entries (id),
    idempotency_key TEXT,
    rules_version   INTEGER NOT NULL,
    recorded_by     INTEGER REFERENCES accounts (id),
    at              TEXT NOT NULL
);
-- Boards: one branch's months, summed per member straight from the index.
CREATE INDEX point_entries_month ON point_entries (subject, month, org_id, member_id, points);
-- Rankings: one month of a subject in member order, summed without sorting.
CREATE INDEX point_entries_rank ON point_entries (subject, month, member_id, points);
CREATE INDEX point_entries_member ON point_entries (member_id, month);
-- Most entries have none of these: the unique indexes hold only the rows that do.
CREATE UNIQUE INDEX point_entries_key ON point_entries (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX point_entries_reversed ON point_entries (reverses_id) WHERE reverses_id IS NOT NULL;
CREATE UNIQUE INDEX point_entries_claim ON point_entries (claim_id) WHERE claim_id IS NOT NULL;

-- A closed month: scope 'members' (a branch's members' points, closed by the branch) or
-- 'units' (the branches' and secretaries' points under a committee, closed by it).
CREATE TABLE point_closes (
    org_id    INTEGER NOT NULL REFERENCES orgs (id),
    scope     TEXT NOT NULL,
    month     INTEGER NOT NULL,
    entries   INTEGER NOT NULL,
    total     INTEGER NOT NULL,
    closed_by INTEGER REFERENCES accounts (id),
    closed_at TEXT NOT NULL,
    PRIMARY KEY (org_id, scope, month)
);

-- 一年一兑分: a branch's confirmed annual conversion.
CREATE TABLE point_years (
    org_id       INTEGER NOT NULL REFERENCES orgs (id),
    year         INTEGER NOT NULL,
    results_json TEXT NOT NULL,
    digest       TEXT NOT NULL,
    confirmed_by INTEGER REFERENCES accounts (id),
    confirmed_at TEXT NOT NULL,
    PRIMARY KEY (org_id, year)
);

-- 星级党支部: a committee's yearly rating of its branches.
CREATE TABLE star_rounds (
    id              INTEGER PRIMARY KEY,
    org_id          INTEGER NOT NULL REFERENCES orgs (id),
    year            INTEGER NOT NULL,
    scheme_json     TEXT NOT NULL,
    rules_version   INTEGER NOT NULL,
    -- scoring, publicity, final
    status          TEXT NOT NULL,
    publicity_until TEXT,
    created_by      INTEGER REFERENCES accounts (id),
    created_at      TEXT NOT NULL,
    finalised_at    TEXT,
    version         INTEGER NOT NULL DEFAULT 1,
    UNIQUE (org_id, year)
);

CREATE TABLE star_scores (
    round_id      INTEGER NOT NULL REFERENCES star_rounds (id),
    branch_id     INTEGER NOT NULL REFERENCES orgs (id),
    -- the manual assessment items: {"key": score}
    items_json    TEXT NOT NULL,
    innovation    TEXT NOT NULL,
    -- filled when the round goes to publicity
    branch_points INTEGER,
    points_score  INTEGER,
    total         INTEGER,
    stars         INTEGER,
    capped        INTEGER NOT NULL DEFAULT 0,
    scored_by     INTEGER REFERENCES accounts (id),
    scored_at     TEXT NOT NULL,
    PRIMARY KEY (round_id, branch_id)
);

-- The final ratings, one per branch and year: the history of stars rising and falling.
CREATE TABLE star_ratings (
    branch_id INTEGER NOT NULL REFERENCES orgs (id),
    year      INTEGER NOT NULL,
    stars     INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
    total     INTEGER NOT NULL,
    round_id  INTEGER NOT NULL REFERENCES star_rounds (id),
    PRIMARY KEY (branch_id, year)
);
