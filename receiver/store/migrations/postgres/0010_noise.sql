-- Noise control (issue 15): repeat suppression's notification log, silences, and the two new
-- final states of a delivery that was held back on purpose: suppressed (repeat_interval) and
-- silenced (a silence or the action's mute_time).
ALTER TABLE deliveries DROP CONSTRAINT IF EXISTS deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check CHECK
    (state IN ('queued', 'in_progress', 'retrying', 'succeeded', 'dead', 'superseded', 'suppressed', 'silenced'));

-- One row per (rule, action, group key): the last delivery sent for it, and the one being sent
-- right now (pending_*: a reservation that runs out with the sender's lease).
CREATE TABLE notify_log (
    rule           TEXT COLLATE "C" NOT NULL,
    action_index   INTEGER NOT NULL,
    group_key      TEXT COLLATE "C" NOT NULL,
    delivery_id    TEXT COLLATE "C",
    content_sha256 TEXT,
    sent_at        DOUBLE PRECISION,
    pending_id     TEXT COLLATE "C",
    pending_sha256 TEXT,
    pending_until  DOUBLE PRECISION,
    PRIMARY KEY (rule, action_index, group_key)
);

CREATE TABLE silences (
    id         TEXT COLLATE "C" PRIMARY KEY,
    matchers   JSON NOT NULL,      -- list of matcher strings as written (path=value, path!=value, path=~re)
    starts_at  DOUBLE PRECISION NOT NULL,
    ends_at    DOUBLE PRECISION NOT NULL,
    comment    TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expired_at DOUBLE PRECISION
);
CREATE INDEX silences_ends ON silences (ends_at);

-- What held a suppressed or silenced delivery back: the delivery that was sent, or the silence.
ALTER TABLE deliveries ADD COLUMN quieted_by TEXT COLLATE "C";
