-- The digest of the schema files that last ran on this warehouse (see resources.py).
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.schema_state (digest VARCHAR NOT NULL);
