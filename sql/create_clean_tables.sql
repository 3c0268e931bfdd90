-- Clean layer: every raw.events row of a day ends in clean.events or clean.events_quarantine.
CREATE SCHEMA IF NOT EXISTS clean;

CREATE TABLE IF NOT EXISTS clean.events (
    event_date DATE NOT NULL,          -- UTC day; equals the partition
    event_id VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL,             -- UTC
    user_id VARCHAR NOT NULL,
    session_id VARCHAR,
    event_type VARCHAR NOT NULL,
    product_id VARCHAR,
    in_catalog BOOLEAN NOT NULL,       -- false: product unknown to raw.products (no category/brand)
    category VARCHAR,
    brand VARCHAR,
    product_title VARCHAR,
    price DOUBLE,                      -- unit price after the outlier rule
    raw_price DOUBLE,                  -- unit price as received
    price_flag VARCHAR,                -- NULL, 'replaced_by_catalog', 'filled_from_catalog', 'clamped'
    quantity INTEGER,
    quantity_flag VARCHAR,             -- NULL or 'clamped'
    query VARCHAR,
    review_text VARCHAR,
    rating INTEGER,
    device VARCHAR,
    source_file VARCHAR NOT NULL,
    line_no BIGINT NOT NULL,
    cleaned_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS clean.events_quarantine (
    event_date DATE NOT NULL,          -- the partition that quarantined the row
    reason VARCHAR NOT NULL,
    event_id VARCHAR,
    ts TIMESTAMPTZ,
    ts_event_date DATE,                -- the UTC day the row's own timestamp falls on
    user_id VARCHAR,
    session_id VARCHAR,
    event_type VARCHAR,
    product_id VARCHAR,
    price DOUBLE,
    quantity INTEGER,
    query VARCHAR,
    review_text VARCHAR,
    rating INTEGER,
    device VARCHAR,
    source_file VARCHAR NOT NULL,
    line_no BIGINT NOT NULL,
    cleaned_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS clean.bot_users (
    event_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    events BIGINT NOT NULL,
    max_events_per_minute BIGINT NOT NULL
);
