-- 补录: a complete historical file transcribed from a paper archive. Staff enter it with its
-- original dates, checked by the same time rules, and sign each record in place of the
-- original signers (signature method `backfill`). While `backfill_open` the file has no due
-- dates (its deadlines are history); finishing it turns a file still running into a live one.
ALTER TABLE recruits ADD COLUMN backfill_ref TEXT;
ALTER TABLE recruits ADD COLUMN backfill_by BIGINT REFERENCES accounts (id);
ALTER TABLE recruits ADD COLUMN backfill_open BOOLEAN NOT NULL DEFAULT FALSE;
