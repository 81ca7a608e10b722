-- On PostgreSQL the name indexes now include the member's id. SQLite's indexes already end
-- with the rowid (the member's id), so here there is nothing to change.
SELECT 1;
