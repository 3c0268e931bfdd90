-- Each user's most recent SVD factors of one svd_model version within the features window
-- ($first_day..$day).
SELECT user_id, arg_max(factors, factor_date) AS factors
FROM ml.user_factors
WHERE model_version = $version AND factor_date BETWEEN $first_day::DATE AND $day::DATE
GROUP BY user_id
ORDER BY user_id;
