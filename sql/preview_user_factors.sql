-- Run-log preview: ids and aggregates only, never registration attributes (age, gender,
-- city, signup date, e-mail, phone) or free text (docs/privacy.md).
SELECT user_id, model_version, known_items, unknown_items,
       list_transform(factors[1:4], lambda x: round(x, 4)) AS first_factors
FROM ml.user_factors WHERE factor_date = $day::DATE
ORDER BY known_items DESC, user_id LIMIT 10;
