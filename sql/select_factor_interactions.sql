-- Implicit feedback per (user, product) over $first_day..$last_day: each event's weight by
-- type (a review by its rating: 5 stars = +w_review, 3 = 0, 1 = -w_review; a return is
-- usually negative), decayed by half every $half_life_days days before $ref_day, summed.
-- The caller clips the sum at 0 and scales it with log1p. With $users_day set, only users
-- active on that day (the daily fold-in), and with $profiled also every user of that day's
-- user_features (the users recommended to); NULL: every user. Read in {passes} passes,
-- pass {part} (0-based) has a disjoint group of the users (literals: as parameters DuckDB
-- evaluated such a filter 12x slower).
WITH weighted AS (
    SELECT user_id, product_id, event_date, event_type,
           CASE event_type
               WHEN 'view' THEN $w_view
               WHEN 'cart' THEN $w_cart
               WHEN 'purchase' THEN $w_purchase
               WHEN 'review' THEN $w_review * (coalesce(rating, 3) - 3) / 2.0
               WHEN 'return' THEN $w_return
           END AS w
    FROM clean.events
    WHERE event_date BETWEEN $first_day::DATE AND $last_day::DATE
      AND product_id IS NOT NULL
      AND event_type IN ('view', 'cart', 'purchase', 'review', 'return')
      AND hash(user_id) % {passes}::UBIGINT = {part}::UBIGINT
      AND ($users_day::DATE IS NULL OR user_id IN (
          SELECT user_id FROM clean.events WHERE event_date = $users_day::DATE
          UNION SELECT user_id FROM features.user_features
          WHERE $profiled AND feature_date = $users_day::DATE))
)
SELECT user_id, product_id,
       sum(w * pow(0.5, ($ref_day::DATE - event_date) / $half_life_days::DOUBLE)) AS weight,
       count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
       max(event_date) AS last_date
FROM weighted
GROUP BY user_id, product_id;
