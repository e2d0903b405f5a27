-- An event's page lists the events its emit: deliveries derived (store.children): found by
-- parent_id through this index, instead of scanning by time.
CREATE INDEX IF NOT EXISTS events_parent ON events (parent_id) WHERE parent_id IS NOT NULL
