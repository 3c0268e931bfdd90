-- Re-ranker item features over $first_day..$last_day, every user: distinct buyers, and the
-- re-order rate (share of buyers who bought the product on two or more days).
WITH per_user AS (
    SELECT product_id, user_id, count(DISTINCT event_date) AS days
    FROM clean.events
    WHERE event_type = 'purchase' AND product_id IS NOT NULL
      AND event_date BETWEEN $first_day::DATE AND $last_day::DATE
    GROUP BY product_id, user_id
)
SELECT product_id, count(*) AS item_buyers,
       avg(CASE WHEN days >= 2 THEN 1.0 ELSE 0.0 END) AS item_reorder_rate
FROM per_user
GROUP BY product_id;
