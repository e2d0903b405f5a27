-- Deployments and baselines (issue #13). A successful deployment is recorded in the transaction
-- that stores its event (a redelivery records nothing), so a run event stored later finds it with
-- one indexed lookup: the newest deployment of a repository (in an environment) at a time.
CREATE TABLE deployments (
    event_id       TEXT PRIMARY KEY,   -- the deployment.success event that reported it
    repo           TEXT NOT NULL,      -- owner/name
    environment    TEXT,
    sha            TEXT NOT NULL,
    ref            TEXT,               -- the deployed branch or tag, as the platform names it
    default_branch TEXT,               -- the repository's default branch when the event says (GitHub)
    deployed_at    REAL NOT NULL       -- the event's time (seconds since the epoch)
) WITHOUT ROWID;
CREATE INDEX deployments_latest ON deployments (repo, deployed_at, event_id);
CREATE INDEX deployments_latest_env ON deployments (repo, environment, deployed_at, event_id)
    WHERE environment IS NOT NULL;
-- Baselines: the last passing runs of a test on a branch, walked backwards from a run's end.
-- Partial like the 0003 indexes: only passing finished runs with a branch are written to it.
CREATE INDEX runs_baseline ON runs (test_key, branch, ended_at, key)
    WHERE verdict = 'passed' AND branch IS NOT NULL
