-- Polling (issue #14): one schedule row per watched run, keyed like the run row (source, platform
-- run id), claimed with a lease like a delivery (receiver/polling/engine.py), and a bounded history
-- of its polls (same columns as the SQLite schema). The run row remembers whether a poll set its status (status_by = 'poll'): a webhook
-- reporting a transition a poll already saw is then a duplicate (receiver/runs/track.py).
ALTER TABLE runs ADD COLUMN status_by TEXT;
CREATE TABLE polls (
    source_id        TEXT NOT NULL,
    run_id           TEXT NOT NULL,      -- the platform's run id
    run_key          TEXT,               -- the run row (NULL until a discovered run has one)
    platform         TEXT NOT NULL,      -- which poller (receiver/polling/__init__.py POLLERS)
    sink_id          TEXT NOT NULL,      -- whose base URL, auth, guard, timeout and rate limit
    state            TEXT NOT NULL,      -- watching / done / gave_up
    due_at           DOUBLE PRECISION NOT NULL,
    lease_owner      TEXT,
    lease_until      DOUBLE PRECISION,
    started_at       DOUBLE PRECISION NOT NULL,
    interval_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,  -- the wait before this next poll (0: the platform's interval)
    failures         INTEGER NOT NULL DEFAULT 0,  -- consecutive failed polls
    unchanged        INTEGER NOT NULL DEFAULT 0,  -- consecutive polls that saw nothing new
    polls            INTEGER NOT NULL DEFAULT 0,
    cursor           TEXT,               -- JSON, the poller's memory between polls
    last_status      INTEGER,            -- HTTP status of the last answer
    last_error       TEXT,               -- why the last poll failed (redacted by the sink)
    last_polled_at   DOUBLE PRECISION,
    updated_at       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (source_id, run_id)
);
CREATE INDEX polls_due ON polls (due_at) WHERE state = 'watching';
CREATE INDEX polls_run ON polls (run_key) WHERE run_key IS NOT NULL;
CREATE TABLE poll_history (
    source_id    TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    number       INTEGER NOT NULL,       -- the poll's number (polls.polls when it was made)
    at           DOUBLE PRECISION NOT NULL,
    status       INTEGER,                -- HTTP status, or NULL when no answer came
    error_class  TEXT,                   -- http_429, timeout, transient … (NULL on success)
    observations INTEGER NOT NULL,       -- events it made
    reason       TEXT,
    PRIMARY KEY (source_id, run_id, number)
);
-- Bug0 reports its runs only through GitHub commit statuses / check runs (issue #14): such an event
-- is linked to the run Hookyard started for its repository and commit (receiver/runs/track.py), found
-- by this index. Partial: only runs a trigger started are written to it (`trigger_sha = ?` implies
-- NOT NULL), so webhook-only runs cost no index write on ingest.
CREATE INDEX runs_trigger_commit ON runs (platform, repo, trigger_sha, key) WHERE trigger_sha IS NOT NULL;
