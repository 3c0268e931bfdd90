-- The latest day of behavioural features: segment_model fits on that day's users.
SELECT max(feature_date) FROM features.user_features;
