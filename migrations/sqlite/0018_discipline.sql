-- 党纪处分: the disciplinary decisions on a member (2018 纪律处分条例 art. 8: 警告, 严重警告,
-- 撤销党内职务, 留党察看 of one or two years, 开除党籍), entered by organisation staff with the
-- deciding body and the document number. While 留党察看 runs the member has no right to vote,
-- elect or be elected, and cannot introduce applicants; 开除党籍 ends membership (status
-- `left`). Replaces the bare `under_watch` flag, which nothing could set.
CREATE TABLE member_discipline (
    id            INTEGER PRIMARY KEY,
    member_id     INTEGER NOT NULL REFERENCES members (id),
    org_id        INTEGER NOT NULL REFERENCES orgs (id),
    kind          TEXT NOT NULL CHECK (kind IN ('warning', 'serious_warning', 'removal_from_post', 'probation', 'expulsion')),
    decided_on    TEXT NOT NULL,
    ends_on       TEXT,
    deciding_body TEXT NOT NULL,
    document_no   TEXT NOT NULL,
    reason        TEXT NOT NULL,
    recorded_by   INTEGER REFERENCES accounts (id),
    recorded_at   TEXT NOT NULL,
    revoked_on    TEXT,
    revoke_reason TEXT NOT NULL DEFAULT '',
    -- for 开除党籍: the status the member had, restored if the decision is revoked
    prior_status  TEXT
);
CREATE INDEX member_discipline_member ON member_discipline (member_id, decided_on);
CREATE INDEX member_discipline_org ON member_discipline (org_id, kind);
ALTER TABLE members DROP COLUMN under_watch;
