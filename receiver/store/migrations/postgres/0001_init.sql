-- Events with their raw bodies, dedupe keys, deliveries and every attempt.
-- Same tables, columns and meaning as the SQLite schema. Choices specific to PostgreSQL:
--  * ids are COLLATE "C" so `id < $1` paging and tie-breaks compare bytes, as in SQLite,
--    whatever the database's default collation is;
--  * JSON columns are `json`, not `jsonb`: json keeps key order and accepts "\u0000" in
--    strings (jsonb rejects it, which would make a verified webhook unstorable);
--  * times are seconds since the epoch in DOUBLE PRECISION, like SQLite's REAL.
CREATE TABLE events (
    id              TEXT COLLATE "C" PRIMARY KEY,
    source_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    type            TEXT NOT NULL,
    subject         TEXT,
    received_at     DOUBLE PRECISION NOT NULL,
    body_sha256     TEXT NOT NULL,
    headers         JSON NOT NULL,
    body            BYTEA NOT NULL,
    envelope        JSON NOT NULL,      -- without raw: raw is the parsed body
    normalize_error TEXT,
    parent_id       TEXT COLLATE "C",
    correlation_id  TEXT NOT NULL,
    depth           INTEGER NOT NULL DEFAULT 0,
    rules_version   TEXT,
    matched_rules   JSON NOT NULL DEFAULT '[]'
);
CREATE INDEX events_received ON events (received_at);
CREATE INDEX events_body ON events (source_id, body_sha256, received_at);
CREATE INDEX events_correlation ON events (correlation_id);

-- One row per redelivery key (provider delivery id, signature header, emit origin).
CREATE TABLE event_keys (
    source_id TEXT NOT NULL,
    key       TEXT NOT NULL,
    event_id  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (source_id, key)
);

CREATE TABLE deliveries (
    id              TEXT COLLATE "C" PRIMARY KEY,
    event_id        TEXT COLLATE "C" NOT NULL REFERENCES events (id),
    rule            TEXT NOT NULL,
    action_index    INTEGER NOT NULL,
    sink_id         TEXT NOT NULL,
    emit            TEXT,
    params          JSON,
    state           TEXT NOT NULL
        CHECK (state IN ('queued', 'in_progress', 'retrying', 'succeeded', 'dead', 'superseded')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      DOUBLE PRECISION NOT NULL,
    updated_at      DOUBLE PRECISION NOT NULL,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    lease_until     DOUBLE PRECISION,
    lease_owner     TEXT,
    last_error      TEXT,
    ordering_key    TEXT,
    ordering_time   DOUBLE PRECISION,
    budget_start    DOUBLE PRECISION NOT NULL,
    replay_of       TEXT COLLATE "C"
);
-- Partial indexes: the claim query only ever looks at waiting work and running leases.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state IN ('queued', 'retrying');
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE state = 'in_progress';
CREATE INDEX deliveries_state ON deliveries (state);
CREATE INDEX deliveries_created ON deliveries (created_at);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_ordering ON deliveries (ordering_key, state);

CREATE TABLE attempts (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id      TEXT COLLATE "C" NOT NULL REFERENCES deliveries (id),
    number           INTEGER NOT NULL,
    started_at       DOUBLE PRECISION NOT NULL,
    finished_at      DOUBLE PRECISION NOT NULL,
    duration_ms      DOUBLE PRECISION NOT NULL,
    outcome          TEXT NOT NULL,
    status_code      INTEGER,
    error_class      TEXT,
    reason           TEXT,
    response_excerpt TEXT
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, number);
