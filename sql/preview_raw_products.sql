-- Five catalogue rows for the run's metadata (no personal data in the catalogue).
SELECT * EXCLUDE (loaded_at)
FROM raw.products
ORDER BY product_id
LIMIT 5
