-- 民主评议党员: once a year a branch runs a round. The roll is the branch's members when the
-- round opens. Each member writes a 个人自评 (text and the grade they give themselves); in the
-- 民主测评 the members rate each other by the round's code (no self-rating; a comment for each
-- is the written 党员互评), or the secretary enters a paper ballot without a name; the
-- committee gives its grade at the sitting that decides (评定). The result of each member is
-- computed from the three parts with the rule set's weights (renormalised when a part is
-- missing) and the 优秀 cap (a tie across the cap goes down together). 不合格 members get the
-- organisational handling recorded. open → rating → decided, or cancelled.
CREATE TABLE appraisals (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs (id),
    year          INTEGER NOT NULL,
    status        TEXT NOT NULL,
    -- six digits while the 民主测评 is open
    rate_code     TEXT,
    -- the sitting that decided (支委会 or 党员大会 of the branch)
    meeting_id    INTEGER REFERENCES meetings (id),
    decided_on    TEXT,
    decided_by    INTEGER REFERENCES accounts (id),
    -- the weights, grades and cap the results were computed with
    rules_json    TEXT NOT NULL DEFAULT '{}',
    created_by    INTEGER REFERENCES accounts (id),
    created_at    TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX appraisals_org ON appraisals (org_id, year);
CREATE UNIQUE INDEX appraisals_one ON appraisals (org_id, year) WHERE status <> 'cancelled';
CREATE UNIQUE INDEX appraisals_code ON appraisals (rate_code);

-- The roll of a round, with each member's self-assessment, the committee's grade and result.
CREATE TABLE appraisal_members (
    appraisal_id     INTEGER NOT NULL REFERENCES appraisals (id),
    member_id        INTEGER NOT NULL REFERENCES members (id),
    name             TEXT NOT NULL,
    self_text        TEXT NOT NULL DEFAULT '',
    self_grade       TEXT NOT NULL DEFAULT '',
    self_at          TEXT,
    -- member (written by them) or secretary (entered from paper)
    self_by          TEXT NOT NULL DEFAULT '',
    committee_grade  TEXT NOT NULL DEFAULT '',
    -- the weighted score in tenths of a point (0–1000), and the grade it gives
    score            INTEGER,
    grade            TEXT NOT NULL DEFAULT '',
    grade_note       TEXT NOT NULL DEFAULT '',
    -- 不合格: 限期改正, 劝其退党 or 除名, and what was done
    handling         TEXT NOT NULL DEFAULT '',
    handling_note    TEXT NOT NULL DEFAULT '',
    handled_on       TEXT,
    PRIMARY KEY (appraisal_id, member_id)
);
CREATE INDEX appraisal_members_member ON appraisal_members (member_id);
-- 工作台: the members in the last grade whose handling is not recorded
CREATE INDEX appraisal_members_due ON appraisal_members (grade, handling);

-- Who has cast their 民主测评 ballot by code (once each); kept apart from the ballots, which
-- name nobody: a ballot's id is random and it has no time, so neither its order nor its
-- moment leads back to a voter.
CREATE TABLE appraisal_voters (
    appraisal_id  INTEGER NOT NULL REFERENCES appraisals (id),
    member_id     INTEGER NOT NULL REFERENCES members (id),
    PRIMARY KEY (appraisal_id, member_id)
) WITHOUT ROWID;
-- One 民主测评 ballot, cast by code or entered from paper (`via`), without its author.
CREATE TABLE appraisal_ballots (
    id            INTEGER PRIMARY KEY,
    appraisal_id  INTEGER NOT NULL REFERENCES appraisals (id),
    via           TEXT NOT NULL
);
CREATE INDEX appraisal_ballots_round ON appraisal_ballots (appraisal_id);
CREATE TABLE appraisal_ratings (
    ballot_id     INTEGER NOT NULL REFERENCES appraisal_ballots (id),
    appraisal_id  INTEGER NOT NULL REFERENCES appraisals (id),
    member_id     INTEGER NOT NULL REFERENCES members (id),
    grade         TEXT NOT NULL,
    comment       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (ballot_id, member_id)
);
CREATE INDEX appraisal_ratings_member ON appraisal_ratings (appraisal_id, member_id);
