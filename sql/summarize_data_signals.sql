-- What the data offers over $first_day..$last_day of clean.events (summed from the per-day
-- counts of clean.event_signals), and in the snapshots: the counts behind "missing inputs" (a
-- signal absent here leaves the columns it feeds empty).
SELECT
    sum(events) AS events,
    sum(views) AS views,
    sum(carts) AS carts,
    sum(purchases) AS purchases,
    sum(reviews) AS reviews,
    sum(ratings) AS ratings,
    sum(searches) AS searches,
    sum(events_with_category) AS events_with_category,
    sum(events_with_brand) AS events_with_brand,
    sum(purchases_with_price) AS purchases_with_price,
    sum(events_with_session) AS events_with_session,
    (SELECT count(*) FROM raw.products) AS products,
    (SELECT count(*) FROM raw.products
      WHERE nullif(trim(coalesce(title, '') || coalesce(description, '')), '') IS NOT NULL)
        AS products_with_text,
    (SELECT count(*) FROM raw.users) AS users_registered,
    (SELECT count(*) FROM raw.users
      WHERE age IS NOT NULL OR gender IS NOT NULL OR city IS NOT NULL) AS users_with_demographics
FROM clean.event_signals
WHERE event_date BETWEEN $first_day AND $last_day
