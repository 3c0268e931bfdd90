INSERT INTO ml.text_occurrences
SELECT $day::DATE, user_id, text_hash, kind, product_id, category, sum(events), sum(weight)
FROM new_text_occurrences
GROUP BY ALL;
