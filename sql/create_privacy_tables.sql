-- Privacy (see docs/privacy.md): the users who asked to be forgotten, and what each forget
-- removed. A user id is never stored in clear here: id_hash is
-- sha256(<forget key> || ':' || user_id) in lowercase hex (profiling_assets.forget).
CREATE SCHEMA IF NOT EXISTS meta;

-- Ingest refuses the lines of these users (reason suppressed_user, raw line not kept).
CREATE TABLE IF NOT EXISTS meta.suppressed_users (
    id_hash VARCHAR PRIMARY KEY,
    forgotten_at TIMESTAMP NOT NULL       -- UTC, the first forget of this user
);

-- One row per forget, user and table it removed rows from; a forget that found nothing
-- leaves one row with table_name NULL, so every request is on record.
CREATE TABLE IF NOT EXISTS meta.deletion_log (
    id_hash VARCHAR NOT NULL,
    forgotten_at TIMESTAMP NOT NULL,      -- UTC
    table_name VARCHAR,                   -- schema.table
    rows_removed BIGINT NOT NULL
);
