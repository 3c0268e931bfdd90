-- The day's texts the model version has embedded already. The version's filter sits in a
-- subquery: inside the SEMI JOIN's ON clause DuckDB 1.4 plans a nested loop.
SELECT c.text_hash
FROM day_texts c
SEMI JOIN (SELECT text_hash FROM ml.text_embeddings WHERE model_version = $version) e USING (text_hash);
