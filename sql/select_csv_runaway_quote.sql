-- The physical line of a quote left open that swallowed the rest of the CSV file (the reader
-- found no closing quote before the end), if any.
SELECT min(line) FROM csv_reject_errors
WHERE error_type = 'UNQUOTED VALUE' AND strpos(trim(csv_line, E'\r\n'), E'\n') > 0
