-- The first and last day of clean.events in the warehouse, for choosing a training window.
SELECT min(event_date) AS first_day, max(event_date) AS last_day FROM clean.events;
