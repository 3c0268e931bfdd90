-- Quarantined rows per reason over $first_day..$last_day, with their share of the raw rows:
-- what `summary` explains under its table.
SELECT q.reason, count(*) AS n,
       count(*) / nullif((SELECT count(*) FROM raw.events
                          WHERE partition_date BETWEEN $first_day AND $last_day), 0) AS share
FROM clean.events_quarantine q
WHERE q.event_date BETWEEN $first_day AND $last_day
GROUP BY q.reason
ORDER BY n DESC
