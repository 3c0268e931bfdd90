-- Each landing file's outcome (`ingest_file_reports`, one row per file, registered from the
-- reports): lines read (0 when it could not be read), and for a file that failed, status
-- 'failed' and the error.
INSERT INTO raw.ingest_files (partition_date, source_file, file_format, file_bytes, lines_read,
                              loaded_at, status, error)
SELECT $day, source_file, file_format, file_bytes, lines_read, $loaded_at, status, error
FROM ingest_file_reports
