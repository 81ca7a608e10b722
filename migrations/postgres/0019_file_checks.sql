-- Verifications of the stored files (every blob against its SM3 digest, every reference to a
-- stored file) next to those of the audit chain: `kind` tells them apart, `bad_json` names
-- the files that failed with the records that use them.
ALTER TABLE audit_checks ADD COLUMN kind TEXT NOT NULL DEFAULT 'chain';
ALTER TABLE audit_checks ADD COLUMN bad_json TEXT NOT NULL DEFAULT '[]';
CREATE INDEX audit_checks_kind ON audit_checks (kind, id);
