-- Run-log preview: ids and aggregates only, never registration attributes (age, gender,
-- city, signup date, e-mail, phone) or free text (docs/privacy.md). The ten (source, user)
-- pairs shown are picked first, so only their rows are aggregated, not the day's million.
WITH shown AS (
    SELECT DISTINCT source, user_id FROM ml.recommendations WHERE rec_date = $day::DATE
    ORDER BY source DESC, user_id LIMIT 10
)
SELECT r.user_id, r.source, list(r.product_id ORDER BY r.rank) AS products
FROM ml.recommendations r JOIN shown USING (source, user_id)
WHERE r.rec_date = $day::DATE
GROUP BY r.user_id, r.source ORDER BY r.source DESC, r.user_id;
