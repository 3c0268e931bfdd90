SELECT c.text_hash
FROM day_texts c
SEMI JOIN ml.text_embeddings e ON e.text_hash = c.text_hash AND e.model_version = $version;
