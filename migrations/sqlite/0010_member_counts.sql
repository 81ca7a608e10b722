-- Members per organisation and status, kept by triggers in the transaction of every write
-- that adds, moves, re-statuses or removes a member. A subtree's total is then a sum over
-- its organisations' rows instead of a count over its members (a county: 23,000 index
-- entries per list page). Rows that fall to zero stay; an organisation's rows go with it.
CREATE TABLE org_member_counts (
    org_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (org_id, status)
) WITHOUT ROWID;

INSERT INTO org_member_counts (org_id, status, n)
    SELECT org_id, status, COUNT(*) FROM members GROUP BY org_id, status;

CREATE TRIGGER members_count_insert AFTER INSERT ON members
BEGIN
    INSERT INTO org_member_counts (org_id, status, n) VALUES (NEW.org_id, NEW.status, 1)
        ON CONFLICT (org_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER members_count_delete AFTER DELETE ON members
BEGIN
    UPDATE org_member_counts SET n = n - 1 WHERE org_id = OLD.org_id AND status = OLD.status;
END;

CREATE TRIGGER members_count_update AFTER UPDATE OF org_id, status ON members
    WHEN OLD.org_id <> NEW.org_id OR OLD.status <> NEW.status
BEGIN
    UPDATE org_member_counts SET n = n - 1 WHERE org_id = OLD.org_id AND status = OLD.status;
    INSERT INTO org_member_counts (org_id, status, n) VALUES (NEW.org_id, NEW.status, 1)
        ON CONFLICT (org_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER orgs_count_delete AFTER DELETE ON orgs
BEGIN
    DELETE FROM org_member_counts WHERE org_id = OLD.id;
END;

-- A subtree's members in organisation order, then by id: organisations by path, each one's
-- members from this index already in id order, so a page needs no sort.
CREATE INDEX members_org_id ON members (org_id, id);
