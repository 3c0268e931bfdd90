-- The first and last day of features.user_features: the span the propensity cutoffs fit in.
SELECT min(feature_date), max(feature_date) FROM features.user_features;
