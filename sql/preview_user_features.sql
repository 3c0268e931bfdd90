-- Run-log preview: ids and aggregates only, never registration attributes (age, gender,
-- city, signup date, e-mail, phone) or free text (docs/privacy.md).
SELECT user_id, days_since_last_visit, orders_90d, revenue_90d, top_category, price_ratio_90d,
       preferred_hour_band, rfm_code
FROM features.user_features
WHERE feature_date = $day
ORDER BY revenue_90d DESC, user_id
LIMIT 5;
