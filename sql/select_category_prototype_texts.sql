-- The product texts of each catalogue category that this encoder version has embedded;
-- their mean is the category's prototype in embedding space.
SELECT DISTINCT o.category, o.text_hash
FROM ml.text_occurrences o
WHERE o.kind = 'product' AND o.category IS NOT NULL AND o.event_date <= $day::DATE
  AND EXISTS (SELECT 1 FROM ml.text_embeddings e
              WHERE e.model_version = $version AND e.text_hash = o.text_hash);
