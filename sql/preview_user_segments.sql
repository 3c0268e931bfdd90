SELECT user_id, segment_id, segment_name, round(confidence, 3) AS confidence, model_version
FROM ml.user_segments WHERE segment_date = $day::DATE
ORDER BY confidence DESC, user_id LIMIT 10;
