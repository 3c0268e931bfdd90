-- Benchmark yardstick (bench/ingest.py): DuckDB's own typed load of the event contract from
-- CSV files with a header row. Records it cannot read are skipped.
CREATE TABLE events AS
SELECT * FROM read_csv($files, header = true, ignore_errors = true, columns = {
    event_id: 'VARCHAR', ts: 'TIMESTAMPTZ', user_id: 'VARCHAR', session_id: 'VARCHAR',
    event_type: 'VARCHAR', product_id: 'VARCHAR', price: 'DOUBLE', quantity: 'INTEGER',
    query: 'VARCHAR', review_text: 'VARCHAR', rating: 'INTEGER', device: 'VARCHAR'});
CHECKPOINT;
