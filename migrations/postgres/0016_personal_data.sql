-- Personal data that no longer completes an ID number.
--
-- An ID number is region (6 digits) + birth date (8) + sequence (3) + check (1). The region
-- and the birth date were kept in clear beside a mask that showed the first four and the last
-- four characters: together they were the whole number. Now the birth date is kept as its
-- month (what statistics need: age bands), and masks show the first and the last character
-- only, so the day of birth and the sequence digits are known only from the encrypted number.
-- The exact birth date, where a rule needs it, is read from the encrypted number.

DROP INDEX members_org;
ALTER TABLE members ADD COLUMN birth_month DATE NOT NULL DEFAULT '1900-01-01';
UPDATE members SET birth_month = date_trunc('month', birth_date)::date;
ALTER TABLE members DROP COLUMN birth_date;
CREATE INDEX members_org ON members (org_id, status, gender, education, join_date, birth_month);
UPDATE members SET id_masked = left(id_masked, 1) || repeat('*', length(id_masked) - 2) || right(id_masked, 1)
    WHERE length(id_masked) >= 8;

ALTER TABLE recruits ADD COLUMN birth_month DATE NOT NULL DEFAULT '1900-01-01';
UPDATE recruits SET birth_month = date_trunc('month', birth_date)::date;
ALTER TABLE recruits DROP COLUMN birth_date;
UPDATE recruits SET id_masked = left(id_masked, 1) || repeat('*', length(id_masked) - 2) || right(id_masked, 1)
    WHERE length(id_masked) >= 8;

ALTER TABLE talents ADD COLUMN birth_month DATE NOT NULL DEFAULT '1900-01-01';
UPDATE talents SET birth_month = date_trunc('month', birth_date)::date;
ALTER TABLE talents DROP COLUMN birth_date;
UPDATE talents SET id_masked = left(id_masked, 1) || repeat('*', length(id_masked) - 2) || right(id_masked, 1)
    WHERE length(id_masked) >= 8;

UPDATE love_cards SET id_masked = left(id_masked, 1) || repeat('*', length(id_masked) - 2) || right(id_masked, 1)
    WHERE length(id_masked) >= 8;
