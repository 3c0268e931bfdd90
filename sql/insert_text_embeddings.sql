-- New texts only: an existing (version, hash) row is the cache and stays as it is.
INSERT INTO ml.text_embeddings
SELECT $version, text_hash, kind, text, tokens, embedding::FLOAT[384], $day::DATE, $now
FROM new_embeddings
ON CONFLICT DO NOTHING;
