-- An event's page lists the events its emit: deliveries derived (store.children): found by
-- parent_id through this index, instead of scanning by time.
CREATE INDEX IF NOT EXISTS events_parent ON events (parent_id) WHERE parent_id IS NOT NULL;
-- Redeliveries by body are found through event_keys (body:<sha256>, store/dedupe.py) on both
-- backends now, no longer by this index.
DROP INDEX IF EXISTS events_body;
