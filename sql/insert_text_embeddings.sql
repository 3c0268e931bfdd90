-- New texts only: an existing (version, hash) row is the cache and stays as it is. (An
-- anti-join rather than ON CONFLICT: a lake's table has no key to conflict on.)
INSERT INTO ml.text_embeddings
SELECT $version, n.text_hash, n.kind, n.text, n.tokens, n.embedding::FLOAT[384], $day::DATE, $now
FROM new_embeddings n
WHERE NOT EXISTS (SELECT 1 FROM ml.text_embeddings e
                  WHERE e.model_version = $version AND e.text_hash = n.text_hash);
