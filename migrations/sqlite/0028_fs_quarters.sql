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
