DELETE FROM ml.user_segments WHERE segment_date = $day::DATE;
