SELECT user_id, source, list(product_id ORDER BY rank) AS products
FROM ml.recommendations WHERE rec_date = $day::DATE
GROUP BY user_id, source ORDER BY source DESC, user_id LIMIT 10;
