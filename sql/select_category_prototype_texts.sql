-- The product texts of each catalogue category that this encoder version has embedded;
-- their mean is the category's prototype in embedding space. Distinct pairs first, then the
-- embedded check: the check then probes ~20k pairs instead of every product occurrence.
-- Ordered: a prototype is a float32 mean, whose last bits depend on the order of its texts,
-- so a re-run of a day gives the same scores.
SELECT d.category, d.text_hash
FROM (SELECT DISTINCT o.category, o.text_hash
      FROM ml.text_occurrences o
      WHERE o.kind = 'product' AND o.category IS NOT NULL AND o.event_date <= $day::DATE) d
WHERE EXISTS (SELECT 1 FROM ml.text_embeddings e
              WHERE e.model_version = $version AND e.text_hash = d.text_hash)
ORDER BY d.category, d.text_hash;
