-- Per-day figures printed at the end of the demo: every line read is accepted or rejected,
-- every accepted row is clean or quarantined.
WITH files AS (
    SELECT partition_date AS day, sum(lines_read) AS lines FROM raw.ingest_files GROUP BY ALL
), raw_ok AS (
    SELECT partition_date AS day, count(*) AS accepted FROM raw.events GROUP BY ALL
), raw_bad AS (
    SELECT partition_date AS day, count(*) AS rejected FROM raw.events_rejected GROUP BY ALL
), clean AS (
    SELECT event_date AS day, count(*) AS clean, count(DISTINCT user_id) AS users,
           count(*) FILTER (WHERE event_type = 'purchase') AS purchases
    FROM clean.events GROUP BY ALL
), quarantine AS (
    SELECT event_date AS day, count(*) AS quarantined FROM clean.events_quarantine GROUP BY ALL
)
SELECT day::VARCHAR, lines, coalesce(accepted, 0), coalesce(rejected, 0), coalesce(clean, 0),
       coalesce(quarantined, 0), coalesce(users, 0), coalesce(purchases, 0)
FROM files
LEFT JOIN raw_ok USING (day)
LEFT JOIN raw_bad USING (day)
LEFT JOIN clean USING (day)
LEFT JOIN quarantine USING (day)
ORDER BY day;
