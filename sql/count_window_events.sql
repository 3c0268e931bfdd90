-- Clean events of a window: how many passes a per-user read of it needs.
SELECT count(*)
FROM clean.events
WHERE event_date BETWEEN $first_day::DATE AND $last_day::DATE;
