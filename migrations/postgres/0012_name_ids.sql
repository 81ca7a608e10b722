-- PostgreSQL's indexes do not hold the row's key as SQLite's do (its rowid), so the name
-- indexes also include the member's id: a wide name search then reads its matches, their
-- organisations and their ids from the indexes alone (a county's `wangj` at 3,000,000
-- members: 290 ms → 12 ms to count; see member::store::name_matches_from).
DROP INDEX members_initials;
DROP INDEX members_pinyin;
CREATE INDEX members_initials ON members (name_initials, org_id) INCLUDE (id);
CREATE INDEX members_pinyin ON members (name_pinyin, org_id) INCLUDE (id);
