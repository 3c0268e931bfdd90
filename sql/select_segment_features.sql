-- Raw behavioural inputs of segmentation, one row per user of user_features on $day
-- (bots are already out: they never reach clean events). Transformations and imputation
-- live in segments.py so that fitting and daily assignment share them.
SELECT user_id,
       days_since_last_visit,
       events_7d, events_90d, active_days_90d, orders_90d, revenue_90d, aov_90d,
       tenure_days,
       $day::DATE - first_seen_date AS days_since_first_seen,
       view_to_cart_90d, cart_to_purchase_90d,
       price_ratio_90d, share_below_median_90d, top_category_share
FROM features.user_features
WHERE feature_date = $day::DATE
ORDER BY user_id;
