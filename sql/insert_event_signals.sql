-- The day's row of clean.event_signals, with the day's clean events (a step of cleaned_events'
-- partition replacement, after create_event_signals_macro). An empty day has no row.
DELETE FROM clean.event_signals WHERE event_date = $day;
INSERT INTO clean.event_signals SELECT * FROM day_event_signals($day::DATE, $day::DATE);
