-- One profile row per user of user_features on $day, assembled from every layer of that day.
-- Cumulative values (first_seen_date, lifetime_value) are sums over the user's whole history of
-- user_daily_activity up to $day, never carried over from the previous day's row: a day's
-- profile is the same whether days are built in order, out of order, in one range or with
-- gaps. The per-user-day table is far smaller than the events, and only the day's users are
-- read; lifetime_value_since is the first day of activity the warehouse holds.
INSERT INTO profiles.user_profiles_history
WITH registered AS (
    SELECT user_id, arg_max(signup_date, loaded_at) AS signup_date, arg_max(age, loaded_at) AS age,
           arg_max(gender, loaded_at) AS gender, arg_max(city, loaded_at) AS city
    FROM raw.users GROUP BY user_id
),
lifetime AS (
    SELECT a.user_id, min(a.activity_date) AS first_seen_date,
           sum(a.revenue) - sum(a.refunds) AS lifetime_value
    FROM features.user_daily_activity a
    -- the day's users as a subquery: with the day's filter inside a SEMI JOIN's ON clause,
    -- DuckDB 1.4 plans a nested loop (11 s a day on the demo instead of milliseconds)
    SEMI JOIN (SELECT user_id FROM features.user_features WHERE feature_date = $day) f USING (user_id)
    WHERE a.activity_date <= $day
    GROUP BY a.user_id
),
history_start AS (
    SELECT min(activity_date) AS since FROM features.user_daily_activity WHERE activity_date <= $day
),
recommended AS (
    -- the most recent recommendations of the last 30 days (every profiled user gets them
    -- daily); a blended list names its sources, sorted and joined: e.g. 'buy_again+svd'
    -- (a join to each user's latest day, not a correlated max: DuckDB 1.4 plans that as a
    -- nested loop over every user's rows)
    SELECT r.user_id, list(r.product_id ORDER BY r.rank) AS items,
           array_to_string(list_sort(list_distinct(list(r.source))), '+') AS source,
           any_value(r.model_version) AS model_version
    FROM ml.recommendations r
    JOIN (SELECT user_id, max(rec_date) AS rec_date FROM ml.recommendations
          WHERE rec_date BETWEEN $day::DATE - 29 AND $day::DATE
          GROUP BY user_id) latest USING (user_id, rec_date)
    GROUP BY r.user_id
)
SELECT f.feature_date, f.user_id,
       u.signup_date,
       CASE WHEN u.age IS NULL THEN NULL WHEN u.age < 25 THEN '18-24' WHEN u.age < 35 THEN '25-34'
            WHEN u.age < 45 THEN '35-44' WHEN u.age < 55 THEN '45-54' WHEN u.age < 65 THEN '55-64'
            ELSE '65+' END,
       u.gender, u.city,
       least(coalesce(l.first_seen_date, f.first_seen_date), f.first_seen_date),
       f.last_seen_date, f.last_purchase_date, f.days_since_last_visit, f.days_since_last_purchase,
       f.orders_90d, f.revenue_90d, f.rfm_recency, f.rfm_frequency, f.rfm_monetary, f.rfm_code,
       f.aov_90d,
       coalesce(l.lifetime_value, f.revenue_90d - f.refunds_90d),
       coalesce(hs.since, f.first_seen_date),
       f.top_categories, f.top_category, f.top_brands, f.top_brand,
       f.price_ratio_90d, f.share_below_median_90d,
       CASE WHEN f.price_ratio_90d IS NULL THEN NULL
            WHEN f.price_ratio_90d < 0.85 OR f.share_below_median_90d >= 0.7 THEN 'high'
            WHEN f.price_ratio_90d > 1.15 AND f.share_below_median_90d <= 0.3 THEN 'low'
            ELSE 'medium' END,
       f.preferred_hour_band, f.preferred_weekday,
       s.segment_id, s.segment_name, s.confidence,
       t.top_interests,
       r.items, r.source,
       t.model_version, r.model_version, s.model_version,
       $now,
       sc.purchase_propensity_14d, sc.purchase_propensity_decile,
       sc.churn_risk_30d, sc.churn_risk_decile,
       sc.expected_spend_90d, sc.expected_spend_decile,
       sc.score_drivers, sc.score_missing_reason,
       sc.purchase_model_version, sc.churn_model_version, sc.spend_model_version
FROM features.user_features f
LEFT JOIN registered u USING (user_id)
LEFT JOIN lifetime l USING (user_id)
CROSS JOIN history_start hs
LEFT JOIN ml.user_segments s ON s.user_id = f.user_id AND s.segment_date = $day
LEFT JOIN ml.user_text_profile t ON t.user_id = f.user_id AND t.profile_date = $day
LEFT JOIN recommended r ON r.user_id = f.user_id
LEFT JOIN ml.user_scores sc ON sc.user_id = f.user_id AND sc.score_date = $day
WHERE f.feature_date = $day;
