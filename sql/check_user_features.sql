-- Figures behind the user_features checks for a range of days.
WITH f AS (
    SELECT * FROM features.user_features WHERE feature_date BETWEEN $first_day AND $last_day
)
SELECT
    (SELECT count(*) - count(DISTINCT (feature_date, user_id)) FROM f) AS duplicate_rows,
    (SELECT count(*) FROM f
     WHERE abs(list_sum(list_transform(top_categories, lambda x: x.share)) - 1) > 1e-9
        OR abs(list_sum(list_transform(top_brands, lambda x: x.share)) - 1) > 1e-9) AS bad_share_sums,
    (SELECT count(*) FROM f
     WHERE least(revenue_7d, revenue_30d, revenue_90d, refunds_90d) < 0) AS negative_money,
    (SELECT count(*) FROM f
     WHERE days_since_last_visit <> feature_date - last_seen_date
        OR days_since_last_visit < 0
        OR days_since_last_visit > 89
        OR (last_purchase_date IS NOT NULL AND last_purchase_date > last_seen_date)) AS bad_recency,
    (SELECT count(*) FROM f) AS rows_checked;
