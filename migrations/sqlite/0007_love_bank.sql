-- 爱心银行: residents' love-points cards, services that earn points, goods redeemed for them.
-- A card's balance and a good's stock are kept by conditional updates that can never take
-- them below zero; every movement is an entry, and the balance equals the sum of the entries.

CREATE TABLE love_cards (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES orgs (id),
    holder       TEXT NOT NULL,
    member_id    INTEGER REFERENCES members (id),
    id_enc       BLOB,
    id_idx       TEXT,
    id_masked    TEXT,
    phone_enc    BLOB,
    phone_masked TEXT,
    key_version  INTEGER NOT NULL,
    address      TEXT NOT NULL,
    issued_on    TEXT NOT NULL,
    balance      INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
    created_at   TEXT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX love_cards_org ON love_cards (org_id, holder);
CREATE UNIQUE INDEX love_cards_person ON love_cards (org_id, id_idx);

CREATE TABLE love_goods (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES orgs (id),
    name       TEXT NOT NULL,
    unit       TEXT NOT NULL,
    price      INTEGER NOT NULL CHECK (price > 0),
    stock      INTEGER NOT NULL DEFAULT 0 CHECK (stock >= 0),
    active     INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE INDEX love_goods_org ON love_goods (org_id);

CREATE TABLE love_entries (
    id              INTEGER PRIMARY KEY,
    card_id         INTEGER NOT NULL REFERENCES love_cards (id),
    org_id          INTEGER NOT NULL REFERENCES orgs (id),
    -- earn, redeem, reverse
    kind            TEXT NOT NULL,
    service         TEXT,
    goods_id        INTEGER REFERENCES love_goods (id),
    quantity        INTEGER NOT NULL DEFAULT 1,
    points          INTEGER NOT NULL,
    done_on         TEXT NOT NULL,
    note            TEXT NOT NULL,
    reverses_id     INTEGER REFERENCES love_entries (id),
    idempotency_key TEXT UNIQUE,
    recorded_by     INTEGER REFERENCES accounts (id),
    at              TEXT NOT NULL
);
CREATE INDEX love_entries_card ON love_entries (card_id, id);
CREATE INDEX love_entries_org ON love_entries (org_id, done_on);
CREATE UNIQUE INDEX love_entries_reversed ON love_entries (reverses_id);

CREATE TABLE love_stock (
    id          INTEGER PRIMARY KEY,
    goods_id    INTEGER NOT NULL REFERENCES love_goods (id),
    quantity    INTEGER NOT NULL,
    note        TEXT NOT NULL,
    done_on     TEXT NOT NULL,
    recorded_by INTEGER REFERENCES accounts (id),
    at          TEXT NOT NULL
);
CREATE INDEX love_stock_goods ON love_stock (goods_id);
