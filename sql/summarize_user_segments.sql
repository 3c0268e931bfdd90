-- Per-segment counts and mean confidence of one day's assignments.
SELECT segment_id, segment_name, count(*) AS users, round(avg(confidence), 3) AS mean_confidence
FROM ml.user_segments WHERE segment_date = $day::DATE
GROUP BY ALL ORDER BY segment_id;
