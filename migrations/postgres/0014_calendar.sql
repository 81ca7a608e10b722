-- The one working-day calendar: each stored day belongs to a year's arrangement (the 2019
-- arrangement starts on 29 December 2018), and each year records where it came from
-- (`builtin`: the State Council's arrangement shipped in the binary; `edited`: typed or
-- changed here) so that a year once edited is never overwritten at start.
ALTER TABLE calendar_days ADD COLUMN year BIGINT NOT NULL DEFAULT 0;
UPDATE calendar_days SET year = EXTRACT(YEAR FROM day)::BIGINT;
CREATE INDEX calendar_days_year ON calendar_days (year, day);

CREATE TABLE calendar_years (
    year       BIGINT PRIMARY KEY,
    source     TEXT NOT NULL CHECK (source IN ('builtin', 'edited')),
    notice     TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
INSERT INTO calendar_years (year, source, notice, updated_at)
    SELECT DISTINCT year, 'edited', '', now() FROM calendar_days;
