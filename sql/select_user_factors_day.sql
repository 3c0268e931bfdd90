-- The day's user factors, with the model version that produced them.
SELECT user_id, model_version, factors FROM ml.user_factors WHERE factor_date = $day::DATE;
