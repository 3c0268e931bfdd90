-- The day's most active users for the run's metadata: ids and counts only (previews live
-- in the run log; no timestamps, registration attributes or texts).
SELECT user_id, events, views, carts, purchases, orders, searches, reviews, sessions,
       round(revenue, 2) AS revenue, distinct_products, distinct_categories
FROM features.user_daily_activity
WHERE activity_date = $day
ORDER BY events DESC, user_id
LIMIT 5;
