-- A branch's latest entries (the month page's "recently recorded"): without it both databases
-- walk the whole table backwards by id to find one branch's last 30 (PostgreSQL at 11.7
-- million entries: 1.2 s a page).
CREATE INDEX point_entries_org ON point_entries (org_id, id);
