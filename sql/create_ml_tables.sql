-- Models and what they produce. Every fitted version of every model has one registry row;
-- daily apply assets read the row whose status is 'production' and record its version.
CREATE SCHEMA IF NOT EXISTS ml;

CREATE TABLE IF NOT EXISTS ml.model_registry (
    model_name VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    trained_at TIMESTAMP NOT NULL,        -- UTC
    window_start DATE,                    -- first day of training data (inclusive)
    window_end DATE,                      -- last day of training data (inclusive)
    metrics JSON NOT NULL,                -- evaluation figures of this fit
    config JSON NOT NULL,                 -- the settings the fit used
    artifact_path VARCHAR NOT NULL,       -- data/models/<model_name>/<version>/
    status VARCHAR NOT NULL,              -- candidate | production | retired | rejected
    status_reason VARCHAR,                -- why the status last changed
    status_changed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (model_name, version)
);
