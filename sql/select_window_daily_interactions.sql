-- Per day of a training window $first_day..$last_day (the svd_model's window picture): the
-- product events the model weighs, the users who made them and their distinct (user, item)
-- pairs; a day without events (a closed day) is a row of zeros.
WITH days AS (
    SELECT unnest(generate_series($first_day::DATE, $last_day::DATE, INTERVAL 1 DAY))::DATE AS event_date
),
daily AS (
    SELECT event_date, count(*) AS events, count(DISTINCT user_id) AS users,
           count(DISTINCT (user_id, product_id)) AS pairs
    FROM clean.events
    WHERE event_date BETWEEN $first_day::DATE AND $last_day::DATE
      AND product_id IS NOT NULL
      AND event_type IN ('view', 'cart', 'purchase', 'review', 'return')
    GROUP BY event_date
)
SELECT days.event_date, coalesce(events, 0), coalesce(users, 0), coalesce(pairs, 0)
FROM days LEFT JOIN daily USING (event_date)
ORDER BY days.event_date;
