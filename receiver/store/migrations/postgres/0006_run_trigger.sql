-- Runs Hookyard started with a follow-up call (issue #13, "the trigger"): the commit the
-- triggering event named, so that later events of the run can say their commit came from the
-- trigger (data.git.inferred_from), and the correlation id of the chain that started the run.
ALTER TABLE runs ADD COLUMN trigger_sha TEXT;
ALTER TABLE runs ADD COLUMN correlation_id TEXT
