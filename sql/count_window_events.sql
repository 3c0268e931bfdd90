-- Clean events of a window, from the per-day counts cleaned_events keeps: how many passes a
-- per-user read of it needs.
SELECT coalesce(sum(events), 0)
FROM clean.event_signals
WHERE event_date BETWEEN $first_day::DATE AND $last_day::DATE;
