-- Purchases per (user, product) over $first_day..$last_day for buy-again and for the
-- "never recommend as new what the user bought" rule: the count, and the count with each
-- purchase halved every $half_life_days before $last_day (recency). With $users_day set, only
-- the users recommended to on that day (user_features of the day, plus the day's active users).
SELECT user_id, product_id, count(*) AS purchases,
       sum(pow(0.5, ($last_day::DATE - event_date) / $half_life_days::DOUBLE)) AS recency,
       max(event_date) AS last_date
FROM clean.events
WHERE event_type = 'purchase' AND product_id IS NOT NULL
  AND event_date BETWEEN $first_day::DATE AND $last_day::DATE
  AND ($users_day::DATE IS NULL OR user_id IN (
      SELECT user_id FROM features.user_features WHERE feature_date = $users_day::DATE
      UNION SELECT user_id FROM clean.events WHERE event_date = $users_day::DATE))
GROUP BY user_id, product_id;
