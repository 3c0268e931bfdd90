-- After a quote left open at physical line $line, the file has no recoverable structure:
-- the broken record keeps its own line, and each later physical line (`lines`, as from a
-- JSONL file) is refused on its own as 'csv_unrecoverable', so every line is counted.
UPDATE staged_file SET raw_line = split_part(raw_line, E'\n', 1)
WHERE line_no = $line AND parse_error = 'malformed_csv';
INSERT INTO staged_file
SELECT line_no, rtrim(line, E'\r\n'), 'csv_unrecoverable',
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM lines
WHERE line_no > $line;
