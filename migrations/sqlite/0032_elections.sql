-- 换届选举: a branch's committee elected at a 党员大会 (《中国共产党基层组织选举工作条例》). The
-- election names its seats and candidates (差额 checked), is held at a notified assembly of the
-- whole branch (those present counted from that sitting's roll, never typed), records the
-- ballots and each candidate's votes (⅘ present, more than half to be elected, checked), and is
-- reported to the level above, whose 批复 replaces the committee roster and starts the new term.
-- prepared → reported → approved, or returned (not approved) / cancelled.
CREATE TABLE elections (
    id               INTEGER PRIMARY KEY,
    org_id           INTEGER NOT NULL REFERENCES orgs (id),
    -- the assembly it is held at
    meeting_id       INTEGER REFERENCES meetings (id),
    seats            INTEGER NOT NULL,
    status           TEXT NOT NULL,
    -- [{member_id, name, votes, elected, role}]
    candidates_json  TEXT NOT NULL DEFAULT '[]',
    -- counted from the sitting's roll when the result is recorded
    voting_expected  INTEGER NOT NULL DEFAULT 0,
    voting_present   INTEGER NOT NULL DEFAULT 0,
    ballots_returned INTEGER NOT NULL DEFAULT 0,
    ballots_invalid  INTEGER NOT NULL DEFAULT 0,
    held_on          TEXT,
    recorded_at      TEXT,
    recorded_by      INTEGER REFERENCES accounts (id),
    -- the level above's 批复 (or its reason for returning)
    approval_no      TEXT NOT NULL DEFAULT '',
    approved_on      TEXT,
    decided_by       INTEGER REFERENCES accounts (id),
    decision_note    TEXT NOT NULL DEFAULT '',
    created_by       INTEGER REFERENCES accounts (id),
    created_at       TEXT NOT NULL,
    version          INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX elections_org ON elections (org_id, id);
CREATE INDEX elections_status ON elections (status, org_id);
-- one election under way per organisation
CREATE UNIQUE INDEX elections_open ON elections (org_id) WHERE status IN ('prepared', 'reported');
-- one assembly holds one election
CREATE UNIQUE INDEX elections_meeting ON elections (meeting_id) WHERE status IN ('prepared', 'reported', 'approved');

-- The committee as elected and approved: who sits on it and in which role (书记, 副书记, 委员).
-- Replaced as a whole by the next approved election.
CREATE TABLE org_committee (
    org_id       INTEGER NOT NULL REFERENCES orgs (id),
    member_id    INTEGER NOT NULL REFERENCES members (id),
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    election_id  INTEGER REFERENCES elections (id),
    since        TEXT NOT NULL,
    PRIMARY KEY (org_id, member_id)
);

-- 延期换届: asked by the organisation with its reason, decided by the level above; the approved
-- months of the current term are kept on the organisation (capped by the rules).
CREATE TABLE term_extensions (
    id             INTEGER PRIMARY KEY,
    org_id         INTEGER NOT NULL REFERENCES orgs (id),
    term_start     TEXT NOT NULL,
    months         INTEGER NOT NULL,
    reason         TEXT NOT NULL,
    -- asked, approved, refused
    status         TEXT NOT NULL,
    asked_by       INTEGER REFERENCES accounts (id),
    asked_at       TEXT NOT NULL,
    decided_by     INTEGER REFERENCES accounts (id),
    decided_at     TEXT,
    decision_note  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX term_extensions_org ON term_extensions (org_id, id);
CREATE UNIQUE INDEX term_extensions_open ON term_extensions (org_id) WHERE status = 'asked';

ALTER TABLE orgs ADD COLUMN term_extended_months INTEGER NOT NULL DEFAULT 0;

-- 谈心谈话: a talk between two members of a branch (支部工作条例: at least once a year between
-- committee members, between committee members and members, and between members). The
-- category is taken from the committee roster on the day, or stated where none is on record.
CREATE TABLE talks (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES orgs (id),
    held_on      TEXT NOT NULL,
    a_member_id  INTEGER NOT NULL REFERENCES members (id),
    a_name       TEXT NOT NULL,
    b_member_id  INTEGER NOT NULL REFERENCES members (id),
    b_name       TEXT NOT NULL,
    -- committee (支委之间), mixed (支委与党员), members (党员之间)
    category     TEXT NOT NULL,
    topic        TEXT NOT NULL,
    recorded_by  INTEGER REFERENCES accounts (id),
    created_at   TEXT NOT NULL
);
CREATE INDEX talks_org ON talks (org_id, held_on);

-- Minutes nearly identical to another branch's filed record (text similarity at filing, per
-- mille): flagged to the level above, never blocked.
ALTER TABLE meetings ADD COLUMN similar_to INTEGER REFERENCES meetings (id);
ALTER TABLE meetings ADD COLUMN similar_permille INTEGER NOT NULL DEFAULT 0;
