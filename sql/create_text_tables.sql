-- Text embeddings and per-user interest vectors (text_encoder's apply assets).
CREATE SCHEMA IF NOT EXISTS ml;
