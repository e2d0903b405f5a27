-- Noise control (issue 15): repeat suppression's notification log, silences, and the two new
-- final states of a delivery that was held back on purpose: suppressed (repeat_interval) and
-- silenced (a silence or the action's mute_time).

-- What held a suppressed or silenced delivery back: the delivery that was sent, or the silence.
ALTER TABLE deliveries ADD COLUMN quieted_by TEXT;

-- One row per (rule, action, group key): the last delivery sent for it, and the one being sent
-- right now (pending_*: a reservation that runs out with the sender's lease).
CREATE TABLE notify_log (
    rule           TEXT NOT NULL,
    action_index   INTEGER NOT NULL,
    group_key      TEXT NOT NULL,
    delivery_id    TEXT,
    content_sha256 TEXT,
    sent_at        REAL,
    pending_id     TEXT,
    pending_sha256 TEXT,
    pending_until  REAL,
    PRIMARY KEY (rule, action_index, group_key)
) WITHOUT ROWID;

CREATE TABLE silences (
    id         TEXT PRIMARY KEY,
    matchers   TEXT NOT NULL,      -- JSON list of matcher strings as written (path=value, path!=value, path=~re)
    starts_at  REAL NOT NULL,
    ends_at    REAL NOT NULL,
    comment    TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    expired_at REAL
);

-- SQLite cannot alter a CHECK constraint; widening one is the documented writable_schema edit
-- (sqlite.org/lang_altertable.html, "making other kinds of table schema changes"): no stored row
-- changes meaning. It comes after the ADD COLUMN above (which edits the same text by offsets this
-- connection parsed), and the CREATE INDEX after it, in the same transaction, bumps the schema
-- cookie so every connection re-reads the schema.
PRAGMA writable_schema = ON;
UPDATE sqlite_master SET sql = replace(sql, '''superseded''', '''superseded'', ''suppressed'', ''silenced''')
    WHERE type = 'table' AND name = 'deliveries';
PRAGMA writable_schema = OFF;
CREATE INDEX silences_ends ON silences (ends_at)
