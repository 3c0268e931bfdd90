-- Size of a candidate training window $first_day..$last_day: users, distinct (user, item)
-- pairs and items with a product event (the adaptive window's floors are on these).
SELECT count(DISTINCT user_id), count(*), count(DISTINCT product_id)
FROM (SELECT DISTINCT user_id, product_id FROM clean.events
      WHERE event_date BETWEEN $first_day::DATE AND $last_day::DATE AND product_id IS NOT NULL
        AND event_type IN ('view', 'cart', 'purchase', 'review', 'return'));
