DELETE FROM raw.events WHERE partition_date = $day;
DELETE FROM raw.events_rejected WHERE partition_date = $day;
DELETE FROM raw.ingest_files WHERE partition_date = $day;
