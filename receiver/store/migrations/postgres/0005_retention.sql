-- Retention (receiver/store/retention.py): an event's redelivery keys are deleted with it.
CREATE INDEX event_keys_event ON event_keys (event_id);
