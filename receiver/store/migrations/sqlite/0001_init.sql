-- Events with their raw bodies, dedupe keys, deliveries and every attempt.
CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    source_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    type            TEXT NOT NULL,
    subject         TEXT,
    received_at     REAL NOT NULL,
    body_sha256     TEXT NOT NULL,
    headers         TEXT NOT NULL,
    body            BLOB NOT NULL,
    envelope        TEXT NOT NULL,      -- without raw: raw is the parsed body
    normalize_error TEXT,
    parent_id       TEXT,
    correlation_id  TEXT NOT NULL,
    depth           INTEGER NOT NULL DEFAULT 0,
    rules_version   TEXT,
    matched_rules   TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX events_received ON events (received_at);
CREATE INDEX events_correlation ON events (correlation_id);

-- One row per redelivery key: provider delivery id, signature header, emit origin, and
-- body:<sha256> (a redelivery only within the source's window; see sqlite.py).
CREATE TABLE event_keys (
    source_id TEXT NOT NULL,
    key       TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    PRIMARY KEY (source_id, key)
) WITHOUT ROWID;

CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events (id),
    rule            TEXT NOT NULL,
    action_index    INTEGER NOT NULL,
    sink_id         TEXT NOT NULL,
    emit            TEXT,
    params          TEXT,
    state           TEXT NOT NULL
        CHECK (state IN ('queued', 'in_progress', 'retrying', 'succeeded', 'dead', 'superseded')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    lease_until     REAL,
    lease_owner     TEXT,
    last_error      TEXT,
    ordering_key    TEXT,
    ordering_time   REAL,
    budget_start    REAL NOT NULL,
    replay_of       TEXT
);
-- Claiming looks only at claimable rows, however many finished ones pile up.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state IN ('queued', 'retrying');
CREATE INDEX deliveries_state ON deliveries (state, created_at);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_ordering ON deliveries (ordering_key, state);

CREATE TABLE attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id      TEXT NOT NULL REFERENCES deliveries (id),
    number           INTEGER NOT NULL,
    started_at       REAL NOT NULL,
    finished_at      REAL NOT NULL,
    duration_ms      REAL NOT NULL,
    outcome          TEXT NOT NULL,
    status_code      INTEGER,
    error_class      TEXT,
    reason           TEXT,
    response_excerpt TEXT
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, number);
