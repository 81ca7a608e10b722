-- 第一书记联盟 (梁山, seed 002): a department's whole alliance (总盟) and its sub-alliances
-- (分盟, `parent_id` the whole one), each sub-alliance with its first secretaries. Contests
-- (比武打擂) are review campaigns of kind `contest` whose reporters are the members' postings:
-- quarterly per sub-alliance, half-yearly for the whole; at their close the top ones are named
-- 擂主 (into the red/black ledger) and the first holds the rotating red flag (流动红旗).
ALTER TABLE review_campaigns ADD COLUMN kind TEXT NOT NULL DEFAULT 'review';
ALTER TABLE review_reporters ADD COLUMN assignment_id INTEGER REFERENCES fs_assignments (id);

CREATE TABLE fs_alliances (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs (id),
    parent_id   INTEGER REFERENCES fs_alliances (id),
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE fs_alliance_members (
    alliance_id    INTEGER NOT NULL REFERENCES fs_alliances (id),
    assignment_id  INTEGER NOT NULL REFERENCES fs_assignments (id),
    joined_at      TEXT NOT NULL,
    PRIMARY KEY (alliance_id, assignment_id)
);
CREATE INDEX fs_alliance_members_assignment ON fs_alliance_members (assignment_id);

-- a contest of an alliance for a period (2026-Q3 for a sub-alliance, 2026-H2 for the whole)
CREATE TABLE fs_contests (
    campaign_id  INTEGER PRIMARY KEY REFERENCES review_campaigns (id),
    alliance_id  INTEGER NOT NULL REFERENCES fs_alliances (id),
    period       TEXT NOT NULL,
    UNIQUE (alliance_id, period)
);

-- 擂主 named at a contest's close; `flag` marks who holds the rotating red flag from then on
CREATE TABLE fs_champions (
    campaign_id    INTEGER NOT NULL REFERENCES review_campaigns (id),
    assignment_id  INTEGER NOT NULL REFERENCES fs_assignments (id),
    rank           INTEGER NOT NULL,
    flag           INTEGER NOT NULL,
    ledger_id      INTEGER NOT NULL REFERENCES fs_ledger (id),
    PRIMARY KEY (campaign_id, assignment_id)
);
