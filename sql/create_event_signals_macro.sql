-- day_event_signals(first_day, last_day): clean.events counted per day, as clean.event_signals
-- stores them (insert_event_signals, fill_event_signals).
CREATE OR REPLACE TEMP MACRO day_event_signals(first_day, last_day) AS TABLE
SELECT
    event_date,
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
    count(*) FILTER (session_id IS NOT NULL) AS events_with_session
FROM clean.events
WHERE event_date BETWEEN first_day AND last_day
GROUP BY event_date;
