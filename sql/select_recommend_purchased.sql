-- Every product each of $day's active users has ever bought (up to $day): never recommended.
SELECT DISTINCT user_id, product_id
FROM clean.events
WHERE event_type = 'purchase' AND product_id IS NOT NULL AND event_date <= $day::DATE
  AND user_id IN (SELECT user_id FROM clean.events WHERE event_date = $day::DATE);
