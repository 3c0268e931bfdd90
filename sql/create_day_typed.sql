-- The typed lines of one day's readable files, gathered before the day is written: a file
-- that fails partway is removed from here alone, and the day is then written in one
-- transaction (raw tables never hold half a file).
CREATE OR REPLACE TEMP TABLE day_typed (
    source_file VARCHAR NOT NULL,
    line_no BIGINT,
    reason VARCHAR,
    raw_line VARCHAR,
    event_id VARCHAR,
    ts TIMESTAMPTZ,
    user_id VARCHAR,
    session_id VARCHAR,
    event_type VARCHAR,
    product_id VARCHAR,
    price DOUBLE,
    quantity INTEGER,
    query VARCHAR,
    review_text VARCHAR,
    rating INTEGER,
    device VARCHAR
)
