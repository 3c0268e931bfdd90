-- Benchmark yardstick (bench/ingest.py): DuckDB's own typed load of the event contract from
-- Parquet files (read_parquet takes no column types: the casts give the same twelve).
CREATE TABLE events AS
SELECT event_id::VARCHAR AS event_id, ts::TIMESTAMPTZ AS ts, user_id::VARCHAR AS user_id,
       session_id::VARCHAR AS session_id, event_type::VARCHAR AS event_type,
       product_id::VARCHAR AS product_id, price::DOUBLE AS price, quantity::INTEGER AS quantity,
       query::VARCHAR AS query, review_text::VARCHAR AS review_text, rating::INTEGER AS rating,
       device::VARCHAR AS device
FROM read_parquet($files, union_by_name = true);
CHECKPOINT;
