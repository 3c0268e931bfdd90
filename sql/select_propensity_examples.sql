-- Point-in-time examples of the propensity targets: each user's features.user_features row of
-- a cutoff day (computed from activity up to that day only, never later) with labels from the
-- days after it. A label whose window runs past $last_day is NULL (not mature yet); scoring a
-- day reads the same features with $last_day = the day, so every label is NULL.
-- churned: no event in the churn window ($churn_on = 'events'), or, for order-only data, no
-- purchase ($churn_on = 'purchases').
WITH cutoffs AS (
    SELECT DISTINCT unnest($cutoffs::DATE[]) AS cutoff
), examples AS (
    SELECT f.*
    FROM features.user_features f
    JOIN cutoffs c ON f.feature_date = c.cutoff
), after AS (
    SELECT e.user_id, e.feature_date AS cutoff,
           sum(a.purchases) FILTER (WHERE a.activity_date <= e.feature_date + $purchase_days::INTEGER) AS purchases,
           sum(a.events) FILTER (WHERE a.activity_date <= e.feature_date + $churn_days::INTEGER) AS churn_events,
           sum(a.purchases) FILTER (WHERE a.activity_date <= e.feature_date + $churn_days::INTEGER) AS churn_purchases,
           sum(a.revenue - a.refunds) FILTER (WHERE a.activity_date <= e.feature_date + $spend_days::INTEGER) AS net_spend
    FROM examples e
    JOIN features.user_daily_activity a
      ON a.user_id = e.user_id
     AND a.activity_date > e.feature_date
     AND a.activity_date <= e.feature_date + greatest($purchase_days::INTEGER, $churn_days::INTEGER, $spend_days::INTEGER)
    GROUP BY ALL
)
SELECT
    e.user_id, e.feature_date AS cutoff,
    e.days_since_last_visit, e.days_since_last_purchase,
    e.feature_date - e.first_seen_date + 1 AS observed_days,
    e.tenure_days,
    e.active_days_7d, e.active_days_30d, e.active_days_90d,
    e.events_7d, e.events_30d, e.events_90d,
    e.sessions_30d, e.sessions_90d,
    e.purchases_30d, e.purchases_90d,
    e.orders_7d, e.orders_30d, e.orders_90d,
    e.revenue_30d, e.revenue_90d, e.refunds_90d,
    e.aov_90d, e.view_to_cart_90d, e.cart_to_purchase_90d,
    e.top_category_share, e.price_ratio_90d,
    e.rfm_recency, e.rfm_frequency, e.rfm_monetary,
    CASE WHEN e.feature_date + $purchase_days::INTEGER <= $last_day::DATE
         THEN coalesce(a.purchases, 0) > 0 END AS purchased,
    CASE WHEN e.feature_date + $churn_days::INTEGER <= $last_day::DATE
         THEN coalesce(CASE WHEN $churn_on = 'purchases' THEN a.churn_purchases
                            ELSE a.churn_events END, 0) = 0 END AS churned,
    CASE WHEN e.feature_date + $spend_days::INTEGER <= $last_day::DATE
         THEN coalesce(a.net_spend, 0) END AS net_spend
FROM examples e
LEFT JOIN after a ON a.user_id = e.user_id AND a.cutoff = e.feature_date
ORDER BY e.feature_date, e.user_id;
