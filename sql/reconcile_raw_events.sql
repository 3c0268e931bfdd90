-- Per landing file: lines read (recorded at read time) against rows found in the raw tables.
WITH accepted AS (
    SELECT partition_date, source_file, count(*) AS n FROM raw.events
    WHERE partition_date BETWEEN $first_day AND $last_day GROUP BY ALL
), rejected AS (
    SELECT partition_date, source_file, count(*) AS n FROM raw.events_rejected
    WHERE partition_date BETWEEN $first_day AND $last_day GROUP BY ALL
)
SELECT f.partition_date, f.source_file, f.lines_read, coalesce(a.n, 0), coalesce(r.n, 0),
       f.status, f.error
FROM raw.ingest_files f
LEFT JOIN accepted a USING (partition_date, source_file)
LEFT JOIN rejected r USING (partition_date, source_file)
WHERE f.partition_date BETWEEN $first_day AND $last_day
ORDER BY ALL;
