-- Raw layer: every input line lands in raw.events (typed) or raw.events_rejected (verbatim).
-- PII (e-mail, phone) lives only in raw.users; nothing downstream selects it.
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.events (
    partition_date DATE NOT NULL,      -- the landing folder's day (dt=...)
    source_file VARCHAR NOT NULL,
    line_no BIGINT NOT NULL,           -- 1-based line (JSONL/CSV) or row (Parquet) in source_file
    event_id VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    event_date DATE NOT NULL,          -- UTC day of ts; may differ from partition_date
    user_id VARCHAR NOT NULL,
    session_id VARCHAR,
    event_type VARCHAR NOT NULL,
    product_id VARCHAR,
    price DOUBLE,
    quantity INTEGER,
    query VARCHAR,
    review_text VARCHAR,
    rating INTEGER,
    device VARCHAR,
    loaded_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.events_rejected (
    partition_date DATE NOT NULL,
    source_file VARCHAR NOT NULL,
    line_no BIGINT NOT NULL,
    raw_line VARCHAR,                  -- the line as it was read
    reason VARCHAR NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);

-- One row per landing file and day: what was read, so that the reconciliation check
-- (lines_read = accepted + rejected) does not trust the tables it checks.
CREATE TABLE IF NOT EXISTS raw.ingest_files (
    partition_date DATE NOT NULL,
    source_file VARCHAR NOT NULL,
    file_format VARCHAR NOT NULL,
    file_bytes BIGINT NOT NULL,
    lines_read BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);
-- status: 'loaded', or 'failed' (unreadable: truncated, corrupt, vanished) with the error;
-- added in place on warehouses created before per-file quarantine.
ALTER TABLE raw.ingest_files ADD COLUMN IF NOT EXISTS status VARCHAR DEFAULT 'loaded';
ALTER TABLE raw.ingest_files ADD COLUMN IF NOT EXISTS error VARCHAR;

CREATE TABLE IF NOT EXISTS raw.users (
    user_id VARCHAR NOT NULL,
    signup_date DATE,
    age INTEGER,
    gender VARCHAR,
    city VARCHAR,
    email VARCHAR,                     -- PII: raw layer only
    phone VARCHAR,                     -- PII: raw layer only
    source_file VARCHAR NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.products (
    product_id VARCHAR NOT NULL,
    title VARCHAR,
    description VARCHAR,
    category VARCHAR,
    brand VARCHAR,
    price DOUBLE,
    source_file VARCHAR NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);

-- Snapshot rows that could not be used (no id, unparseable values), with the reason.
CREATE TABLE IF NOT EXISTS raw.snapshot_rejected (
    table_name VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    row_no BIGINT,
    raw_row VARCHAR,
    reason VARCHAR NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);
