-- Grouped actions (rules: group:): matching events join the open group of their (rule, action,
-- group key) instead of making a delivery each; the flusher sends one delivery per group.
-- The same tables as the SQLite schema; ids are COLLATE "C" as everywhere.
CREATE TABLE groups (
    id           TEXT COLLATE "C" PRIMARY KEY,
    rule         TEXT NOT NULL,
    action_index INTEGER NOT NULL,
    sink_id      TEXT NOT NULL,
    group_key    TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('open', 'sent')),
    first_at     DOUBLE PRECISION NOT NULL,
    last_at      DOUBLE PRECISION NOT NULL,
    due_at       DOUBLE PRECISION NOT NULL,
    members      INTEGER NOT NULL,
    sent_at      DOUBLE PRECISION,
    delivery_id  TEXT COLLATE "C" REFERENCES deliveries (id) ON DELETE CASCADE  -- pruned with its delivery
);
-- At most one open group per (rule, action, key): joining is one upsert on it.
CREATE UNIQUE INDEX groups_open ON groups (rule, action_index, group_key) WHERE state = 'open';
CREATE INDEX groups_due ON groups (due_at) WHERE state = 'open';
-- The previous send of the same key (a follow-up waits its interval after it).
CREATE INDEX groups_sent ON groups (rule, action_index, group_key, sent_at) WHERE state = 'sent';
CREATE INDEX groups_delivery ON groups (delivery_id);
-- Members are event ids (the envelopes stay in events); retention removing an event removes it here.
CREATE TABLE group_members (
    group_id  TEXT COLLATE "C" NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    event_id  TEXT COLLATE "C" NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    joined_at DOUBLE PRECISION NOT NULL,
    position  INTEGER NOT NULL,  -- 1, 2, …: the order members joined in (the upsert's count)
    PRIMARY KEY (group_id, position)
);
CREATE INDEX group_members_event ON group_members (event_id);
