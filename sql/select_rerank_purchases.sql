-- Re-ranker features of each (user, product) bought in $first_day..$last_day (all before the
-- cutoff $last_day + 1): purchase lines, days bought on, purchases decayed by half every
-- $h_short / $h_mid / $h_long days before $last_day + 1, days since the last and the first
-- purchase, and per user the days with a purchase (orders). With $users_day set, only the
-- users recommended to on that day (user_features of the day, plus the day's active users).
WITH p AS (
    SELECT user_id, product_id, event_date
    FROM clean.events
    WHERE event_type = 'purchase' AND product_id IS NOT NULL
      AND event_date BETWEEN $first_day::DATE AND $last_day::DATE
      AND ($users_day::DATE IS NULL OR user_id IN (
          SELECT user_id FROM features.user_features WHERE feature_date = $users_day::DATE
          UNION SELECT user_id FROM clean.events WHERE event_date = $users_day::DATE))
), age AS (
    SELECT user_id, product_id, event_date, ($last_day::DATE - event_date) + 1 AS days
    FROM p
), user_orders AS (
    SELECT user_id, count(DISTINCT event_date) AS user_orders FROM p GROUP BY user_id
)
SELECT a.user_id, a.product_id,
       count(*) AS purchases,
       count(DISTINCT a.event_date) AS item_orders,
       sum(pow(0.5, a.days / $h_short::DOUBLE)) AS decayed_short,
       sum(pow(0.5, a.days / $h_mid::DOUBLE)) AS decayed_mid,
       sum(pow(0.5, a.days / $h_long::DOUBLE)) AS decayed_long,
       min(a.days) AS days_since_last,
       max(a.days) AS days_since_first,
       any_value(o.user_orders) AS user_orders
FROM age a JOIN user_orders o USING (user_id)
GROUP BY a.user_id, a.product_id;
