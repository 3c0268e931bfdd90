-- Run-log preview: ids and aggregates only, never registration attributes (age, gender,
-- city, signup date, e-mail, phone) or free text (docs/privacy.md).
SELECT user_id, source, list(product_id ORDER BY rank) AS products
FROM ml.recommendations WHERE rec_date = $day::DATE
GROUP BY user_id, source ORDER BY source DESC, user_id LIMIT 10;
