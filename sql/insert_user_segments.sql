-- From the registered frame new_user_segments.
INSERT INTO ml.user_segments
SELECT $day::DATE, user_id, $version, segment_id, segment_name, confidence
FROM new_user_segments;
