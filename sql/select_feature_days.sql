-- The days that have features.user_features rows, oldest first: the propensity cutoffs are
-- chosen among them.
SELECT DISTINCT feature_date FROM features.user_features ORDER BY 1;
