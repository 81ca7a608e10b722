-- 三员分立 with two-person approval, and account hygiene.
--
-- created_by / password_set_by: who made the account and who chose its current password
-- (NULL: its holder). An administrator who holds an account's one-time password "controls"
-- it and may not request or approve anything for it.
ALTER TABLE accounts ADD COLUMN created_by INTEGER;
ALTER TABLE accounts ADD COLUMN password_set_by INTEGER;
-- the last five password hashes (等保: no reuse), JSON array
ALTER TABLE accounts ADD COLUMN password_history TEXT NOT NULL DEFAULT '[]';
-- one account per member
CREATE UNIQUE INDEX accounts_member ON accounts (member_id) WHERE member_id IS NOT NULL;

-- API tokens expire and carry a scope (read / read_write).
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'read_write';
-- tokens made before expiry: 90 days from their creation
UPDATE api_tokens SET expires_at = datetime(created_at, '+90 days') WHERE expires_at IS NULL;

-- Changes to accounts that need a second administrator: requested by one, decided by
-- another, applied in the transaction of the approval.
CREATE TABLE account_requests (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    target_id    INTEGER NOT NULL REFERENCES accounts (id),
    payload      TEXT NOT NULL,
    requested_by INTEGER NOT NULL REFERENCES accounts (id),
    requested_at TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled')),
    decided_by   INTEGER REFERENCES accounts (id),
    decided_at   TEXT,
    note         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX account_requests_status ON account_requests (status, id);
CREATE UNIQUE INDEX account_requests_open ON account_requests (target_id, kind) WHERE status = 'pending';
