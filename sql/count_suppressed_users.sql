-- How many users ingest must keep out (profiling-assets forget).
SELECT count(*) FROM meta.suppressed_users
