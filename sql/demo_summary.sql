-- Per-day figures printed at the end of the demo: every line read is accepted or rejected,
-- every accepted row is clean or quarantined. Days without landing files inside the range
-- (closed days) are listed with zeros.
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
, calendar AS (
    SELECT d::DATE AS day
    FROM range((SELECT min(partition_date) FROM raw.events)::TIMESTAMP,
               (SELECT max(partition_date) FROM raw.events)::TIMESTAMP + INTERVAL 1 DAY,
               INTERVAL 1 DAY) t(d)
    UNION
    SELECT day FROM files
)
SELECT day::VARCHAR, coalesce(lines, 0), coalesce(accepted, 0), coalesce(rejected, 0), coalesce(clean, 0),
       coalesce(quarantined, 0), coalesce(users, 0), coalesce(purchases, 0)
FROM calendar
LEFT JOIN files USING (day)
LEFT JOIN raw_ok USING (day)
LEFT JOIN raw_bad USING (day)
LEFT JOIN clean USING (day)
LEFT JOIN quarantine USING (day)
ORDER BY day;
