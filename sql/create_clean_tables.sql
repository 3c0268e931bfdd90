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

-- What each cleaned day offers (summarize_data_signals sums it over a window instead of
-- scanning the window's events: 90 days are 90M rows at 1M events a day). One row per day
-- cleaned_events has built, zeros for an empty day; written with the day's events, and
-- recounted after a forget. Days cleaned before the table existed are counted once when it is
-- created (fill_event_signals).
CREATE TABLE IF NOT EXISTS clean.event_signals (
    event_date DATE NOT NULL,
    events BIGINT NOT NULL,
    views BIGINT NOT NULL,
    carts BIGINT NOT NULL,
    purchases BIGINT NOT NULL,
    reviews BIGINT NOT NULL,           -- with a review text
    ratings BIGINT NOT NULL,           -- reviews with a rating
    searches BIGINT NOT NULL,          -- with a query text
    events_with_category BIGINT NOT NULL,
    events_with_brand BIGINT NOT NULL,
    purchases_with_price BIGINT NOT NULL,
    events_with_session BIGINT NOT NULL
);
