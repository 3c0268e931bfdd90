-- The first and last day of clean.events that have no clean.event_signals row (NULLs: none).
-- Only the event_date column is read.
SELECT min(event_date), max(event_date)
FROM (SELECT DISTINCT event_date FROM clean.events
      EXCEPT
      SELECT event_date FROM clean.event_signals);
