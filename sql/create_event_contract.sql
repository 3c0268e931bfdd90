-- The contract's twelve fields as an empty all-text table. Staging a CSV or Parquet file
-- unions its rows BY NAME onto this, so that missing optional columns come out as NULL.
CREATE OR REPLACE TEMP TABLE event_contract (
    event_id VARCHAR, ts VARCHAR, user_id VARCHAR, session_id VARCHAR, event_type VARCHAR,
    product_id VARCHAR, price VARCHAR, quantity VARCHAR, query VARCHAR, review_text VARCHAR,
    rating VARCHAR, device VARCHAR
);
