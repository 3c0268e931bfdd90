-- CSV landing file with a header row. Records DuckDB's reader cannot split into the header's
-- columns go to its rejects table and are staged as 'malformed_csv' with their physical line.
-- Accepted records are numbered by their order among readable records (header excluded).
-- Row numbers below follow file order, which DuckDB keeps only with insertion order on.
SET preserve_insertion_order = true;
DROP TABLE IF EXISTS csv_reject_errors;
DROP TABLE IF EXISTS csv_reject_scans;
CREATE OR REPLACE TEMP TABLE staged_file AS
WITH records AS (
    -- the header was read and the delimiter chosen in Python (csv_header): a sniffer that has
    -- to guess the dialect falls back to one column when a quote is left open
    SELECT * FROM read_csv($path, auto_detect = false, header = true, delim = $delim,
                           quote = '"', escape = '"', columns = $columns,
                           store_rejects = true, rejects_table = 'csv_reject_errors',
                           rejects_scan = 'csv_reject_scans')
), src AS (
    SELECT * FROM event_contract
    UNION ALL BY NAME
    SELECT * FROM records
)
SELECT row_number() OVER () AS line_no, to_json(src)::VARCHAR AS raw_line,
       CASE WHEN $bad_header THEN 'bad_header' END AS parse_error,
       event_id, ts, user_id, session_id, event_type, product_id,
       price, quantity, query, review_text, rating, device
FROM src;
INSERT INTO staged_file
SELECT DISTINCT line, trim(csv_line, E'\r\n'), CASE WHEN $bad_header THEN 'bad_header' ELSE 'malformed_csv' END,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM csv_reject_errors;
SET preserve_insertion_order = false;
-- every loader names its rows `staged`, a view, so that formats can follow each other
CREATE OR REPLACE TEMP VIEW staged AS SELECT * FROM staged_file;
