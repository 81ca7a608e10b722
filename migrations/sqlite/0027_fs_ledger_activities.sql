-- 第一书记工作红黑台账: commendations, contest wins and achievements (red); absences, failed
-- checks, upheld complaints and penalties (black). Append-only: a mistake is corrected by a
-- reversing entry, at most one per entry.
CREATE TABLE fs_ledger (
    id             INTEGER PRIMARY KEY,
    assignment_id  INTEGER NOT NULL REFERENCES fs_assignments (id),
    cadre_id       INTEGER NOT NULL REFERENCES cadres (id),
    color          TEXT NOT NULL CHECK (color IN ('red', 'black')),
    category       TEXT NOT NULL,
    occurred_on    TEXT NOT NULL,
    note           TEXT NOT NULL,
    -- manual, spot_check
    source         TEXT NOT NULL,
    source_id      INTEGER,
    reverses_id    INTEGER REFERENCES fs_ledger (id),
    recorded_by    INTEGER REFERENCES accounts (id),
    recorder_name  TEXT NOT NULL,
    recorded_at    TEXT NOT NULL
);
CREATE INDEX fs_ledger_assignment ON fs_ledger (assignment_id, occurred_on);
CREATE INDEX fs_ledger_cadre ON fs_ledger (cadre_id, occurred_on);
CREATE UNIQUE INDEX fs_ledger_reverses ON fs_ledger (reverses_id);
CREATE TRIGGER fs_ledger_no_update BEFORE UPDATE ON fs_ledger
BEGIN SELECT RAISE(ABORT, 'fs_ledger is append-only'); END;
CREATE TRIGGER fs_ledger_no_delete BEFORE DELETE ON fs_ledger
BEGIN SELECT RAISE(ABORT, 'fs_ledger is append-only'); END;

-- 四个一: the work meetings (monthly), site visits (quarterly), trainings (half-yearly) and
-- performance assessments (yearly) a round's department holds; each fulfils the round's
-- obligation of its period (obligations.subject_type = 'fs_round').
CREATE TABLE fs_activities (
    id             INTEGER PRIMARY KEY,
    round_id       INTEGER NOT NULL REFERENCES fs_rounds (id),
    -- meeting, visit, training, assessment
    kind           TEXT NOT NULL,
    period         TEXT NOT NULL,
    held_on        TEXT NOT NULL,
    title          TEXT NOT NULL,
    content        TEXT NOT NULL,
    attendees      INTEGER NOT NULL,
    recorded_by    INTEGER REFERENCES accounts (id),
    recorder_name  TEXT NOT NULL,
    recorded_at    TEXT NOT NULL
);
CREATE INDEX fs_activities_round ON fs_activities (round_id, held_on);
