-- Run-log preview: ids and aggregates only, never registration attributes (age, gender,
-- city, signup date, e-mail, phone) or free text (docs/privacy.md).
SELECT user_id, segment_id, segment_name, round(confidence, 3) AS confidence, model_version
FROM ml.user_segments WHERE segment_date = $day::DATE
ORDER BY confidence DESC, user_id LIMIT 10;
