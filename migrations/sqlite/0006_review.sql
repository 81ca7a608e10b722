-- 述职评议考核: campaigns with their scheme, the reporters (all of one kind plus a reproducible
-- draw), three-part reports reviewed level by level, raters registered by real name scoring
-- each reporter, critiques, decisions (一票否定 / 一票肯定) and results.

CREATE TABLE review_schemes (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs (id),
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    scheme_json TEXT NOT NULL,
    created_by  INTEGER REFERENCES accounts (id),
    created_at  TEXT NOT NULL,
    UNIQUE (org_id, name, version)
);

CREATE TABLE review_campaigns (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs (id),
    year        INTEGER NOT NULL,
    title       TEXT NOT NULL,
    scheme_id   INTEGER NOT NULL REFERENCES review_schemes (id),
    -- the pre-meeting review levels, in order (JSON list of names)
    levels_json TEXT NOT NULL,
    -- how the reporters were chosen (JSON: levels, the draw's seed and size, the candidates)
    selection_json TEXT NOT NULL,
    -- reports, meeting, closed
    status      TEXT NOT NULL,
    opened_at   TEXT,
    closed_at   TEXT,
    created_by  INTEGER REFERENCES accounts (id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX review_campaigns_org ON review_campaigns (org_id, year);

CREATE TABLE review_reporters (
    id             INTEGER PRIMARY KEY,
    campaign_id    INTEGER NOT NULL REFERENCES review_campaigns (id),
    org_id         INTEGER NOT NULL REFERENCES orgs (id),
    reporter_name  TEXT NOT NULL,
    -- all, draw
    selected_by    TEXT NOT NULL,
    achievements   TEXT NOT NULL DEFAULT '',
    problems       TEXT NOT NULL DEFAULT '',
    measures       TEXT NOT NULL DEFAULT '',
    -- draft, submitted, returned, approved
    report_status  TEXT NOT NULL,
    -- the review level the report waits for (0-based)
    review_level   INTEGER NOT NULL DEFAULT 0,
    submitted_at   TEXT,
    veto_reason    TEXT,
    affirm_reason  TEXT,
    score_tenths   INTEGER,
    deduction_tenths INTEGER,
    grade          TEXT,
    rank           INTEGER,
    version        INTEGER NOT NULL DEFAULT 1,
    UNIQUE (campaign_id, org_id)
);

CREATE TABLE review_report_reviews (
    id          INTEGER PRIMARY KEY,
    reporter_id INTEGER NOT NULL REFERENCES review_reporters (id),
    level       INTEGER NOT NULL,
    -- approve, return
    decision    TEXT NOT NULL,
    comments    TEXT NOT NULL,
    checklist_json TEXT NOT NULL,
    account_id  INTEGER REFERENCES accounts (id),
    reviewer    TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX review_report_reviews_reporter ON review_report_reviews (reporter_id);

CREATE TABLE review_raters (
    id          INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES review_campaigns (id),
    name        TEXT NOT NULL,
    grp         TEXT NOT NULL,
    unit        TEXT NOT NULL,
    -- the code the rater scores with on a phone (hashed; shown once)
    code_hash   TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);
CREATE INDEX review_raters_campaign ON review_raters (campaign_id);

CREATE TABLE review_scores (
    id           INTEGER PRIMARY KEY,
    campaign_id  INTEGER NOT NULL REFERENCES review_campaigns (id),
    rater_id     INTEGER NOT NULL REFERENCES review_raters (id),
    reporter_id  INTEGER NOT NULL REFERENCES review_reporters (id),
    answers_json TEXT NOT NULL,
    total_tenths INTEGER NOT NULL,
    comment      TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    revisions    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (rater_id, reporter_id)
);
CREATE INDEX review_scores_campaign ON review_scores (campaign_id, reporter_id);

CREATE TABLE review_critiques (
    id          INTEGER PRIMARY KEY,
    reporter_id INTEGER NOT NULL REFERENCES review_reporters (id),
    content     TEXT NOT NULL,
    -- a problem for the rectification ledger (every critique by default)
    is_problem  INTEGER NOT NULL DEFAULT 1,
    -- critique, report_review, rater_comment
    origin      TEXT NOT NULL,
    account_id  INTEGER REFERENCES accounts (id),
    author      TEXT NOT NULL,
    at          TEXT NOT NULL,
    item_id     INTEGER REFERENCES rect_items (id)
);
CREATE INDEX review_critiques_reporter ON review_critiques (reporter_id);
