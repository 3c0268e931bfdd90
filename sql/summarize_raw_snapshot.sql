-- Rows of a snapshot table ({table}: raw.users or raw.products; reason NULL) and its refused
-- rows by reason.
SELECT NULL AS reason, count(*) AS n FROM {table}
UNION ALL
SELECT reason, count(*) FROM raw.snapshot_rejected WHERE table_name = $kind GROUP BY ALL;
