-- Runs (issue #13): one row per (source, platform run id), updated in the same transaction
-- as each event that changes it. Times are seconds since the epoch (REAL) except
-- started_at / finished_at, which keep the envelope's RFC 3339 text.
CREATE TABLE runs (
    key                 TEXT PRIMARY KEY,   -- run_<time-ordered hex>, the Hookyard run id
    source_id           TEXT NOT NULL,
    run_id              TEXT NOT NULL,      -- the platform's own run id (data.run.id)
    platform            TEXT NOT NULL,
    name                TEXT,
    project             TEXT,
    status              TEXT,
    outcome             TEXT,
    url                 TEXT,
    started_at          TEXT,
    finished_at         TEXT,
    duration_ms         REAL,
    repo                TEXT,
    sha                 TEXT,
    branch              TEXT,
    pr                  INTEGER,
    metrics             TEXT,               -- JSON: the latest data.metrics
    counts              TEXT,               -- JSON: the latest data.counts
    final               INTEGER NOT NULL DEFAULT 0,
    event_time          REAL NOT NULL,      -- platform time of the update that set the status
    ended_at            REAL,               -- set once final: finished_at, else that event's time
    verdict             TEXT,               -- passed / failed class of the outcome (runs/model.py)
    test_key            TEXT,               -- source + name + project: which runs are "the same test"
    previous_key        TEXT,
    transition          TEXT,
    first_event_id      TEXT NOT NULL,
    last_event_id       TEXT NOT NULL,
    trigger_event_id    TEXT,
    trigger_delivery_id TEXT,
    created_at          REAL NOT NULL,
    updated_at          REAL NOT NULL,
    UNIQUE (source_id, run_id)
);
-- previous: the latest finished run of the same test, on the same branch or on any. Partial (here
-- and below): a row is written only to the indexes whose queries can find it, so a run in progress
-- or without git fields costs fewer index writes on ingest (`col = ?` implies `col IS NOT NULL`).
CREATE INDEX runs_previous ON runs (test_key, ended_at, key) WHERE verdict IS NOT NULL;
CREATE INDEX runs_previous_branch ON runs (test_key, branch, ended_at, key)
    WHERE verdict IS NOT NULL AND branch IS NOT NULL;
-- /api/runs filters, newest first.
CREATE INDEX runs_name ON runs (name, key) WHERE name IS NOT NULL;
CREATE INDEX runs_branch ON runs (branch, key) WHERE branch IS NOT NULL;
CREATE INDEX runs_pr ON runs (pr, key) WHERE pr IS NOT NULL;
CREATE INDEX runs_outcome ON runs (outcome, key) WHERE outcome IS NOT NULL;
CREATE INDEX runs_transition ON runs (transition, key) WHERE transition IS NOT NULL;

-- Which events belong to which run (the run page lists them).
CREATE TABLE run_events (
    run_key  TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (run_key, event_id)
) WITHOUT ROWID
