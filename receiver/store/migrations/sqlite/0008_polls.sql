-- Bug0 reports its runs only through GitHub commit statuses / check runs (issue #14): such an event
-- is linked to the run Hookyard started for its repository and commit (receiver/runs/track.py), found
-- by this index. Partial: only runs a trigger started are written to it (`trigger_sha = ?` implies
-- NOT NULL), so webhook-only runs cost no index write on ingest.
CREATE INDEX runs_trigger_commit ON runs (platform, repo, trigger_sha, key) WHERE trigger_sha IS NOT NULL
