-- Unordered: the caller places each vector by its hash.
SELECT text_hash, embedding FROM ml.text_embeddings
WHERE model_version = $version AND text_hash IN (SELECT text_hash FROM wanted_hashes);
