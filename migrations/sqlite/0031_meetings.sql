-- 组织生活: a sitting of a branch or a 党小组 (三会一课, 主题党日, 组织生活会, 民主评议). One sitting
-- may count as several kinds (an assembly held on the theme day); `kinds` lists them, comma
-- separated, in the order of `meeting::KINDS`. planned → notified → filed (locked; corrected
-- only by signed addenda), or cancelled before it is filed. A filed sitting fulfils the cadence
-- obligations (`obligations`, kinds `meeting.*`) of the period it was held in.
CREATE TABLE meetings (
    id              INTEGER PRIMARY KEY,
    org_id          INTEGER NOT NULL REFERENCES orgs (id),
    kinds           TEXT NOT NULL,
    title           TEXT NOT NULL,
    held_on         TEXT NOT NULL,
    starts_at       TEXT NOT NULL,
    ends_at         TEXT NOT NULL,
    place           TEXT NOT NULL DEFAULT '',
    agenda          TEXT NOT NULL DEFAULT '',
    -- planned, notified, filed, cancelled
    status          TEXT NOT NULL,
    -- the six digits shown at the sitting; valid only in its window
    sign_code       TEXT,
    host            TEXT NOT NULL DEFAULT '',
    recorder        TEXT NOT NULL DEFAULT '',
    lecturer        TEXT NOT NULL DEFAULT '',
    summary         TEXT NOT NULL DEFAULT '',
    decisions_json  TEXT NOT NULL DEFAULT '[]',
    votes_json      TEXT NOT NULL DEFAULT '[]',
    -- the members invited when planned (empty: the whole roll), until the roll is taken
    invitees_json   TEXT NOT NULL DEFAULT '[]',
    -- counted from the roll when filed
    expected        INTEGER NOT NULL DEFAULT 0,
    present         INTEGER NOT NULL DEFAULT 0,
    voting_expected INTEGER NOT NULL DEFAULT 0,
    voting_present  INTEGER NOT NULL DEFAULT 0,
    notified_at     TEXT,
    filed_at        TEXT,
    filed_by        INTEGER REFERENCES accounts (id),
    signer          TEXT NOT NULL DEFAULT '',
    cancel_reason   TEXT NOT NULL DEFAULT '',
    created_by      INTEGER REFERENCES accounts (id),
    created_at      TEXT NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX meetings_org ON meetings (org_id, held_on);
CREATE INDEX meetings_day ON meetings (held_on, status);
CREATE UNIQUE INDEX meetings_code ON meetings (sign_code) WHERE sign_code IS NOT NULL;

-- The roll: the roster snapshot taken when the sitting is notified (a member who joins later
-- is not expected), and each one's attendance. `voting`: a full member with voting rights on
-- the day. status: expected, present, leave_asked, leave (approved), absent.
CREATE TABLE meeting_attendance (
    meeting_id  INTEGER NOT NULL REFERENCES meetings (id),
    member_id   INTEGER NOT NULL REFERENCES members (id),
    name        TEXT NOT NULL,
    voting      INTEGER NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    signed_at   TEXT,
    -- code (the member's phone), roll (marked by the recorder)
    via         TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (meeting_id, member_id)
);
CREATE INDEX meeting_attendance_member ON meeting_attendance (member_id, status);

-- Observers (列席): upper-level staff (双向列席), 两代表一委员, 村民代表 — most without accounts,
-- signed in by name and the sitting's code, with the observation they leave.
CREATE TABLE meeting_observers (
    id          INTEGER PRIMARY KEY,
    meeting_id  INTEGER NOT NULL REFERENCES meetings (id),
    name        TEXT NOT NULL,
    unit        TEXT NOT NULL DEFAULT '',
    -- upper, deputy, villager, other
    category    TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    account_id  INTEGER REFERENCES accounts (id),
    signed_at   TEXT NOT NULL
);
CREATE INDEX meeting_observers_meeting ON meeting_observers (meeting_id);

-- Signed addenda to a filed record (the record itself never changes once filed).
CREATE TABLE meeting_addenda (
    id          INTEGER PRIMARY KEY,
    meeting_id  INTEGER NOT NULL REFERENCES meetings (id),
    body        TEXT NOT NULL,
    author_id   INTEGER REFERENCES accounts (id),
    author      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX meeting_addenda_meeting ON meeting_addenda (meeting_id);

-- 补学: a member absent or on leave makes up the sitting's study afterwards; recorded by the
-- branch, once per member and sitting.
CREATE TABLE meeting_makeups (
    meeting_id   INTEGER NOT NULL REFERENCES meetings (id),
    member_id    INTEGER NOT NULL REFERENCES members (id),
    done_on      TEXT NOT NULL,
    note         TEXT NOT NULL,
    recorded_by  INTEGER REFERENCES accounts (id),
    created_at   TEXT NOT NULL,
    PRIMARY KEY (meeting_id, member_id)
);

-- A decision of a filed record carried out (落实): the decision is the record's n-th (0-based,
-- `seq`), kept as filed; this row says when and how it was done.
CREATE TABLE meeting_decisions_done (
    meeting_id  INTEGER NOT NULL REFERENCES meetings (id),
    seq         INTEGER NOT NULL,
    done_on     TEXT NOT NULL,
    note        TEXT NOT NULL,
    done_by     INTEGER REFERENCES accounts (id),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (meeting_id, seq)
);
