-- One day of the behavioural features the drift score compares (PSI per feature). At most
-- $sample users, chosen by a hash of user_id (the same users on every day they appear), so
-- that a sensor evaluation stays cheap however many users a day has.
SELECT days_since_last_visit, orders_90d, revenue_90d, price_ratio_90d, top_category
FROM features.user_features
WHERE feature_date = $day
ORDER BY hash(user_id)
LIMIT $sample;
