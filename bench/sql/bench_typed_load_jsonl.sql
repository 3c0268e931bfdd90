-- Benchmark yardstick (bench/ingest.py): DuckDB's own typed load of the event contract from
-- JSONL files, with none of the pipeline's accounting. Lines it cannot read are skipped.
CREATE TABLE events AS
SELECT * FROM read_json($files, format = 'newline_delimited', ignore_errors = true, columns = {
    event_id: 'VARCHAR', ts: 'TIMESTAMPTZ', user_id: 'VARCHAR', session_id: 'VARCHAR',
    event_type: 'VARCHAR', product_id: 'VARCHAR', price: 'DOUBLE', quantity: 'INTEGER',
    query: 'VARCHAR', review_text: 'VARCHAR', rating: 'INTEGER', device: 'VARCHAR'});
CHECKPOINT;
