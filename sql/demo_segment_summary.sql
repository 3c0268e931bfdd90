-- Read from the analysts' published copy: users, value and habits per segment.
SELECT coalesce(segment_name, '(no segment)') AS segment,
       count(*) AS users,
       round(avg(lifetime_value), 2) AS avg_lifetime_value,
       round(avg(orders_90d), 2) AS avg_orders_90d,
       round(avg(days_since_last_visit), 1) AS avg_days_since_visit,
       mode(top_category) AS typical_category
FROM user_profiles
GROUP BY ALL
ORDER BY users DESC;
