-- Segments (segment_model's apply asset): one row per segment of each model version, and the
-- day's assignment of every profiled user.
CREATE SCHEMA IF NOT EXISTS ml;

CREATE TABLE IF NOT EXISTS ml.segments (
    model_version VARCHAR NOT NULL,
    segment_id INTEGER NOT NULL,          -- stable across refits (matched to the previous version)
    segment_name VARCHAR NOT NULL,        -- e.g. 'High-value loyal', 'Bargain hunters'
    description VARCHAR NOT NULL,         -- one line: what sets the segment apart
    size INTEGER NOT NULL,                -- users in the segment when fitted
    PRIMARY KEY (model_version, segment_id)
);

-- One row per user of user_features on segment_date, assigned by the production model (by
-- construction, with no primary key: see KEYLESS_TABLES in resources.py).
CREATE TABLE IF NOT EXISTS ml.user_segments (
    segment_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    segment_id INTEGER NOT NULL,
    segment_name VARCHAR NOT NULL,
    confidence DOUBLE NOT NULL            -- 0..1, from the distances to the nearest centroids
);
