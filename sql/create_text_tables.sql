-- Text embeddings and per-user interest vectors (text_encoder's apply assets).
CREATE SCHEMA IF NOT EXISTS ml;

-- The embedding cache: one row per distinct normalised text per encoder version, so no text
-- is encoded twice by one version. Texts are normalised (control characters removed,
-- whitespace collapsed) before hashing; text_hash is md5 of the normalised UTF-8 text.
CREATE TABLE IF NOT EXISTS ml.text_embeddings (
    model_version VARCHAR NOT NULL,
    text_hash VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,                -- query | review | product (where first seen)
    text VARCHAR NOT NULL,
    tokens INTEGER NOT NULL,              -- after truncation to the model's max length
    embedding FLOAT[384] NOT NULL,        -- L2-normalised
    first_seen DATE NOT NULL,
    embedded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (model_version, text_hash)
);

-- Which user produced or touched which text on which day (the daily partition of
-- text_embeddings); product texts are the title and description of a product the user
-- viewed, carted, bought or reviewed. weight: how much the occurrence says about interest.
CREATE TABLE IF NOT EXISTS ml.text_occurrences (
    event_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    text_hash VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    product_id VARCHAR,                   -- for product texts
    category VARCHAR,                     -- the product's catalogue category, where known
    events INTEGER NOT NULL,
    weight DOUBLE NOT NULL
);

-- One row per user with text activity in the window ending at profile_date (by construction,
-- with no primary key: see KEYLESS_TABLES in resources.py).
CREATE TABLE IF NOT EXISTS ml.user_text_profile (
    profile_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    texts INTEGER NOT NULL,               -- distinct texts behind the vector
    queries INTEGER NOT NULL,
    reviews INTEGER NOT NULL,
    products INTEGER NOT NULL,
    interest FLOAT[384] NOT NULL,         -- recency-weighted mean embedding, L2-normalised
    top_interests VARCHAR[] NOT NULL,     -- nearest category prototypes, closest first
    top_interest_scores FLOAT[] NOT NULL, -- their cosine similarities
    last_text_date DATE NOT NULL
);
