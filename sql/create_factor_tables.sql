-- Collaborative factors (svd_model's apply assets): item factors per model version, the day's
-- user factors by fold-in, and the day's recommendations.
CREATE SCHEMA IF NOT EXISTS ml;

-- One row per item of a model version: the item's row of V (the right singular vectors) and
-- the popularity figures the cold-start fallback ranks by.
CREATE TABLE IF NOT EXISTS ml.item_factors (
    model_version VARCHAR NOT NULL,
    product_id VARCHAR NOT NULL,
    item_index INTEGER NOT NULL,          -- column of the model's user x item matrix
    factors FLOAT[] NOT NULL,             -- length k of the version
    users INTEGER NOT NULL,               -- distinct users with positive weight in the window
    purchasers INTEGER NOT NULL,          -- distinct buyers in the window
    popularity_rank INTEGER NOT NULL,     -- 1 = most bought (the fallback's order)
    PRIMARY KEY (model_version, product_id)
);

-- One row per active user of a day whom the production model knows at least one item of:
-- u = r_u V diag(1/sigma), r_u = the user's weighted interactions over the model's window
-- length ending on factor_date. Active users without a known item get no row. One row per
-- (factor_date, user_id) by construction, with no primary key (see KEYLESS_TABLES in resources.py).
CREATE TABLE IF NOT EXISTS ml.user_factors (
    factor_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    factors FLOAT[] NOT NULL,             -- length k of the version
    known_items INTEGER NOT NULL,         -- items in r_u that the model has factors for
    unknown_items INTEGER NOT NULL,       -- items in the user's window the model has not seen
    created_at TIMESTAMP NOT NULL         -- UTC
);

-- Top-N items per active user of a day, never an item the user has ever bought (up to that
-- day). source: 'svd' (from the user's factors) or 'popularity' (cold start: no factors).
-- One row per (rec_date, user_id, rank) by construction (a day is replaced whole), with no
-- primary key: its index cost each daily write about 10 s at a million rows, more as days
-- accumulate (older warehouses lose it, see KEYLESS_TABLES in resources.py).
CREATE TABLE IF NOT EXISTS ml.recommendations (
    rec_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    rank INTEGER NOT NULL,                -- 1 = best
    product_id VARCHAR NOT NULL,
    score DOUBLE NOT NULL,                -- svd: predicted weight; popularity: buyers in window
    source VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL         -- UTC
);
