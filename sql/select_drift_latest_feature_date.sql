-- The latest day of behavioural features: the "current" side of the PSI drift score.
SELECT max(feature_date) FROM features.user_features;
