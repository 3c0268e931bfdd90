-- Features of every user seen in the 90 days ending $day, from user_daily_activity and its
-- category/brand breakdowns over that window only: a day costs O(window), never O(history).
-- A user with no event for 90 days (the retention horizon) leaves the table; until then the
-- row stays, with recency growing.
CREATE OR REPLACE TEMP TABLE user_window AS
WITH w AS (
    SELECT *, $day::DATE - activity_date AS age
    FROM features.user_daily_activity
    WHERE activity_date BETWEEN $day::DATE - 89 AND $day::DATE
), weekdays AS (
    SELECT user_id, isodow(activity_date) AS dow, sum(events) AS events
    FROM w
    GROUP BY ALL
), preferred_weekday AS (
    -- the weekday with the most events, ties to the earlier one: one number orders both
    -- (dow is 1..7), and 2024-01-07 + dow is that weekday (a sorted list per user cost 10x)
    SELECT user_id,
           dayname(DATE '2024-01-07' + arg_max(dow, events * 8 + (7 - dow))::INTEGER) AS preferred_weekday
    FROM weekdays
    GROUP BY user_id
)
SELECT
    user_id,
    min(activity_date) AS first_seen_date,
    max(activity_date) AS last_seen_date,
    max(activity_date) FILTER (WHERE purchases > 0) AS last_purchase_date,
    count(*) FILTER (WHERE age < 7) AS active_days_7d,
    count(*) FILTER (WHERE age < 30) AS active_days_30d,
    count(*) AS active_days_90d,
    coalesce(sum(events) FILTER (WHERE age < 7), 0) AS events_7d,
    coalesce(sum(events) FILTER (WHERE age < 30), 0) AS events_30d,
    sum(events) AS events_90d,
    coalesce(sum(sessions) FILTER (WHERE age < 7), 0) AS sessions_7d,
    coalesce(sum(sessions) FILTER (WHERE age < 30), 0) AS sessions_30d,
    sum(sessions) AS sessions_90d,
    coalesce(sum(purchases) FILTER (WHERE age < 7), 0) AS purchases_7d,
    coalesce(sum(purchases) FILTER (WHERE age < 30), 0) AS purchases_30d,
    sum(purchases) AS purchases_90d,
    coalesce(sum(orders) FILTER (WHERE age < 7), 0) AS orders_7d,
    coalesce(sum(orders) FILTER (WHERE age < 30), 0) AS orders_30d,
    sum(orders) AS orders_90d,
    -- Money sums (and the price-ratio sum) to 6 decimals: a parallel sum adds in varying order,
    -- and its last bits would otherwise vary between runs of the same day, moving a user across
    -- an RFM edge or a price-sensitivity threshold.
    round(coalesce(sum(revenue) FILTER (WHERE age < 7), 0), 6) AS revenue_7d,
    round(coalesce(sum(revenue) FILTER (WHERE age < 30), 0), 6) AS revenue_30d,
    round(sum(revenue), 6) AS revenue_90d,
    round(sum(refunds), 6) AS refunds_90d,
    sum(items_bought) AS items_bought_90d,
    sum(views) AS views_90d,
    sum(carts) AS carts_90d,
    sum(priced_purchases) AS priced_purchases_90d,
    round(sum(price_ratio_sum), 6) AS price_ratio_sum_90d,
    sum(purchases_below_median) AS purchases_below_median_90d,
    sum(events_night) AS night, sum(events_morning) AS morning,
    sum(events_afternoon) AS afternoon, sum(events_evening) AS evening,
    any_value(p.preferred_weekday) AS preferred_weekday
FROM w
JOIN preferred_weekday p USING (user_id)
GROUP BY user_id;

-- Top 5 categories / brands by 90-day events with their shares (ties to the earlier name);
-- the rest is one '(other)' entry, so that the shares of a user always sum to 1. Each user's
-- pairs are sorted as one small list (a window over all pairs cost a third more).
CREATE OR REPLACE TEMP TABLE user_affinity AS
WITH pairs AS (
    SELECT 'category' AS kind, user_id, category AS name, sum(events) AS n
    FROM features.user_daily_category
    WHERE activity_date BETWEEN $day::DATE - 89 AND $day::DATE
    GROUP BY ALL
    UNION ALL
    SELECT 'brand', user_id, brand, sum(events)
    FROM features.user_daily_brand
    WHERE activity_date BETWEEN $day::DATE - 89 AND $day::DATE
    GROUP BY ALL
), ranked AS (
    -- ascending -n then name: most events first, ties in name order
    SELECT kind, user_id, list_sort(list({'neg': -n, 'name': name})) AS pairs, sum(n) AS total
    FROM pairs
    GROUP BY ALL
), shares AS (
    SELECT kind, user_id,
           list_transform(pairs[1:5], lambda p: {'name': p.name, 'share': -p.neg / total})
           || CASE WHEN len(pairs) > 5
                   THEN [{'name': '(other)',
                          'share': -list_sum(list_transform(pairs[6:], lambda p: p.neg)) / total}]
                   ELSE [] END AS entries
    FROM ranked
)
SELECT
    user_id,
    any_value(entries) FILTER (WHERE kind = 'category') AS top_categories,
    any_value(entries) FILTER (WHERE kind = 'brand') AS top_brands
FROM shares
GROUP BY user_id;

-- RFM quintile edges over the users who purchased in the window.
INSERT INTO features.rfm_edges
SELECT $day, metric, coalesce(edges, []), purchasers
FROM (
    SELECT
        quantile_cont($day::DATE - last_purchase_date, [0.2, 0.4, 0.6, 0.8]) AS r,
        quantile_cont(orders_90d, [0.2, 0.4, 0.6, 0.8]) AS f,
        quantile_cont(revenue_90d, [0.2, 0.4, 0.6, 0.8]) AS m,
        count(*) AS purchasers
    FROM user_window
    WHERE last_purchase_date IS NOT NULL
)
CROSS JOIN LATERAL (VALUES ('days_since_last_purchase', r), ('orders_90d', f), ('revenue_90d', m)) v(metric, edges);

INSERT INTO features.user_features
WITH edges AS (
    SELECT
        any_value(edges) FILTER (WHERE metric = 'days_since_last_purchase') AS r,
        any_value(edges) FILTER (WHERE metric = 'orders_90d') AS f,
        any_value(edges) FILTER (WHERE metric = 'revenue_90d') AS m
    FROM features.rfm_edges
    WHERE feature_date = $day
), scored AS (
    SELECT
        w.*,
        -- fewer days since the last purchase is better; no purchase in the window scores 1
        CASE WHEN w.last_purchase_date IS NULL THEN 1
             ELSE 5 - len(list_filter(e.r, lambda x: x < $day::DATE - w.last_purchase_date)) END AS r_score,
        1 + len(list_filter(e.f, lambda x: x < w.orders_90d)) AS f_score,
        1 + len(list_filter(e.m, lambda x: x < w.revenue_90d)) AS m_score
    FROM user_window w
    CROSS JOIN edges e
)
SELECT
    $day,
    s.user_id,
    u.signup_date,
    $day::DATE - u.signup_date,
    s.first_seen_date,
    s.last_seen_date,
    s.last_purchase_date,
    $day::DATE - s.last_seen_date,
    $day::DATE - s.last_purchase_date,
    s.active_days_7d, s.active_days_30d, s.active_days_90d,
    s.events_7d, s.events_30d, s.events_90d,
    s.sessions_7d, s.sessions_30d, s.sessions_90d,
    s.purchases_7d, s.purchases_30d, s.purchases_90d,
    s.orders_7d, s.orders_30d, s.orders_90d,
    s.revenue_7d, s.revenue_30d, s.revenue_90d,
    s.refunds_90d,
    s.items_bought_90d,
    s.revenue_30d / nullif(s.orders_30d, 0),
    s.revenue_90d / nullif(s.orders_90d, 0),
    s.carts_90d / nullif(s.views_90d, 0),
    s.purchases_90d / nullif(s.carts_90d, 0),
    a.top_categories,
    a.top_categories[1].name,
    a.top_categories[1].share,
    a.top_brands,
    a.top_brands[1].name,
    s.price_ratio_sum_90d / nullif(s.priced_purchases_90d, 0),
    s.purchases_below_median_90d / nullif(s.priced_purchases_90d, 0),
    -- ties go to the earlier band of the day
    CASE greatest(s.night, s.morning, s.afternoon, s.evening)
        WHEN s.night THEN 'night' WHEN s.morning THEN 'morning'
        WHEN s.afternoon THEN 'afternoon' ELSE 'evening' END,
    s.preferred_weekday,
    s.r_score, s.f_score, s.m_score,
    'R' || s.r_score || 'F' || s.f_score || 'M' || s.m_score,
    $now
FROM scored s
LEFT JOIN user_affinity a USING (user_id)
LEFT JOIN raw.users u USING (user_id);
DROP TABLE user_window;
DROP TABLE user_affinity;
