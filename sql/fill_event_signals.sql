-- Rows of clean.event_signals for the days of clean.events in [$first_day, $last_day] that have
-- none (days cleaned before the table existed; every day after a forget), counted from the
-- events (after create_event_signals_macro).
INSERT INTO clean.event_signals
SELECT * FROM day_event_signals($first_day, $last_day)
WHERE event_date NOT IN (SELECT event_date FROM clean.event_signals);
