DELETE FROM ml.user_factors WHERE factor_date = $day::DATE;
