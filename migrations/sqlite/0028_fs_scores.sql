-- 一季一排名: a department's published quarterly ranking of first secretaries, kept as it was
-- published (its months were closed first) with the SM3 digest of the kept rows. The month
-- scores themselves are points entries of subject `first_secretary` (the village's
-- organisation), closed per month in `point_closes` with scope `first_secretaries`.
CREATE TABLE fs_quarters (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs (id),
    -- YYYY-Qn
    quarter       TEXT NOT NULL,
    rows_json     TEXT NOT NULL,
    digest        TEXT NOT NULL,
    published_by  INTEGER REFERENCES accounts (id),
    published_at  TEXT NOT NULL,
    UNIQUE (org_id, quarter)
);
CREATE TRIGGER fs_quarters_no_update BEFORE UPDATE ON fs_quarters
BEGIN
    SELECT RAISE(ABORT, 'fs_quarters is kept as published');
END;
CREATE TRIGGER fs_quarters_no_delete BEFORE DELETE ON fs_quarters
BEGIN
    SELECT RAISE(ABORT, 'fs_quarters is kept as published');
END;

-- 一年一奖惩 (双考核): the department's yearly 履职考核 of a posting against its pledge, 0–100,
-- changeable until the department confirms the year.
CREATE TABLE fs_assessments (
    assignment_id  INTEGER NOT NULL REFERENCES fs_assignments (id),
    year           INTEGER NOT NULL,
    score          INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    note           TEXT NOT NULL,
    assessed_by    INTEGER REFERENCES accounts (id),
    assessed_at    TEXT NOT NULL,
    PRIMARY KEY (assignment_id, year)
);
-- The department's confirmed yearly result: monthly scores and the 履职考核 combined into a
-- grade, kept as confirmed with the SM3 digest of its rows.
CREATE TABLE fs_years (
    org_id        INTEGER NOT NULL REFERENCES orgs (id),
    year          INTEGER NOT NULL,
    rows_json     TEXT NOT NULL,
    digest        TEXT NOT NULL,
    confirmed_by  INTEGER REFERENCES accounts (id),
    confirmed_at  TEXT NOT NULL,
    PRIMARY KEY (org_id, year)
);
CREATE TRIGGER fs_years_no_update BEFORE UPDATE ON fs_years
BEGIN
    SELECT RAISE(ABORT, 'fs_years is kept as confirmed');
END;
CREATE TRIGGER fs_years_no_delete BEFORE DELETE ON fs_years
BEGIN
    SELECT RAISE(ABORT, 'fs_years is kept as confirmed');
END;
