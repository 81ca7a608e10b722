-- The one working-day calendar: each stored day belongs to a year's arrangement (the 2019
-- arrangement starts on 29 December 2018), and each year records where it came from
-- (`builtin`: the State Council's arrangement shipped in the binary; `edited`: typed or
-- changed here) so that a year once edited is never overwritten at start.
ALTER TABLE calendar_days ADD COLUMN year INTEGER NOT NULL DEFAULT 0;
UPDATE calendar_days SET year = CAST(substr(day, 1, 4) AS INTEGER);
CREATE INDEX calendar_days_year ON calendar_days (year, day);

CREATE TABLE calendar_years (
    year       INTEGER PRIMARY KEY,
    source     TEXT NOT NULL CHECK (source IN ('builtin', 'edited')),
    notice     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO calendar_years (year, source, notice, updated_at)
    SELECT DISTINCT year, 'edited', '', strftime('%Y-%m-%d %H:%M:%f+00:00', 'now') FROM calendar_days;
