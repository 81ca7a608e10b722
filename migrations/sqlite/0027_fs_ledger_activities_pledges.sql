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

-- 履职承诺书: the items a first secretary pledges (亮承诺), each with its target and how far it
-- has come; an item taken back is kept, marked removed.
CREATE TABLE fs_pledges (
    id             INTEGER PRIMARY KEY,
    assignment_id  INTEGER NOT NULL REFERENCES fs_assignments (id),
    item           TEXT NOT NULL,
    target         TEXT NOT NULL,
    progress       TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    removed_at     TEXT
);
CREATE INDEX fs_pledges_assignment ON fs_pledges (assignment_id, id);

-- INSERT OR REPLACE deletes the row it replaces without firing DELETE triggers: an insert
-- over an existing row of an append-only table is refused outright.
CREATE TRIGGER fs_ledger_no_replace BEFORE INSERT ON fs_ledger
WHEN EXISTS (SELECT 1 FROM fs_ledger WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'fs_ledger is append-only'); END;
CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
