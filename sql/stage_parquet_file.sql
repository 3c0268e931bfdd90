-- Parquet landing file: typed columns are read as text and validated like any other line;
-- a rejected row keeps its content as JSON. Missing optional columns become NULL. A contract
-- column holding lists, structs or maps ($nested) has no scalar values: every row is refused.
CREATE OR REPLACE TEMP TABLE staged_file AS
WITH src AS (
    SELECT * FROM event_contract
    UNION ALL BY NAME
    SELECT * FROM read_parquet($path, file_row_number = true)
)
SELECT file_row_number + 1 AS line_no, to_json(src)::VARCHAR AS raw_line,
       CASE WHEN $nested THEN 'non_scalar_value' END AS parse_error,
       event_id::VARCHAR AS event_id, ts::VARCHAR AS ts, user_id::VARCHAR AS user_id,
       session_id::VARCHAR AS session_id, event_type::VARCHAR AS event_type,
       product_id::VARCHAR AS product_id, price::VARCHAR AS price,
       quantity::VARCHAR AS quantity, query::VARCHAR AS query,
       review_text::VARCHAR AS review_text, rating::VARCHAR AS rating, device::VARCHAR AS device
FROM src;
-- every loader names its rows `staged`, a view, so that formats can follow each other
CREATE OR REPLACE TEMP VIEW staged AS SELECT * FROM staged_file;
