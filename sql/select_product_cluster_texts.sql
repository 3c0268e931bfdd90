-- Every product text this encoder version has embedded from occurrences up to $day, with the
-- product's title: clustered into interest prototypes when the catalogue has no categories.
SELECT o.text_hash, coalesce(min(p.title), min(e.text)) AS title
FROM ml.text_occurrences o
JOIN ml.text_embeddings e ON e.model_version = $version AND e.text_hash = o.text_hash
LEFT JOIN raw.products p ON p.product_id = o.product_id
WHERE o.kind = 'product' AND o.event_date <= $day::DATE
GROUP BY o.text_hash
ORDER BY o.text_hash;
