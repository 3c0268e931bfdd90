-- Every clean.event_signals row, to be counted again from clean.events (after a forget removed
-- events from many days).
DELETE FROM clean.event_signals;
