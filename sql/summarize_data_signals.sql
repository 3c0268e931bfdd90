-- What the data offers over $first_day..$last_day of clean.events, and in the snapshots: the
-- counts behind "missing inputs" (a signal absent here leaves the columns it feeds empty).
SELECT
    count(*) AS events,
    count(*) FILTER (event_type = 'view') AS views,
    count(*) FILTER (event_type = 'cart') AS carts,
    count(*) FILTER (event_type = 'purchase') AS purchases,
    count(*) FILTER (event_type = 'review' AND nullif(trim(review_text), '') IS NOT NULL) AS reviews,
    count(*) FILTER (event_type = 'review' AND rating IS NOT NULL) AS ratings,
    count(*) FILTER (event_type = 'search' AND nullif(trim(query), '') IS NOT NULL) AS searches,
    count(*) FILTER (product_id IS NOT NULL AND category IS NOT NULL) AS events_with_category,
    count(*) FILTER (product_id IS NOT NULL AND brand IS NOT NULL) AS events_with_brand,
    count(*) FILTER (event_type = 'purchase' AND price IS NOT NULL) AS purchases_with_price,
    count(*) FILTER (session_id IS NOT NULL) AS events_with_session,
    (SELECT count(*) FROM raw.products) AS products,
    (SELECT count(*) FROM raw.products
      WHERE nullif(trim(coalesce(title, '') || coalesce(description, '')), '') IS NOT NULL)
        AS products_with_text,
    (SELECT count(*) FROM raw.users) AS users_registered,
    (SELECT count(*) FROM raw.users
      WHERE age IS NOT NULL OR gender IS NOT NULL OR city IS NOT NULL) AS users_with_demographics
FROM clean.events
WHERE event_date BETWEEN $first_day AND $last_day
