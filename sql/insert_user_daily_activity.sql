-- One row per active user and day of clean.events for the days $first_day..$last_day, in one
-- pass (a month of small days costs one statement, not thirty). Price sensitivity compares
-- each purchase with the median list price of its category in the current catalogue.
CREATE OR REPLACE TEMP TABLE day_clean AS
WITH medians AS (
    SELECT category, median(price) AS median_price
    FROM raw.products
    WHERE category IS NOT NULL AND price > 0
    GROUP BY category
)
SELECT e.*, m.median_price
FROM clean.events e
LEFT JOIN medians m USING (category)
WHERE e.event_date BETWEEN $first_day AND $last_day;
INSERT INTO features.user_daily_activity
SELECT
    event_date,
    user_id,
    count(*),
    count(*) FILTER (WHERE event_type = 'view'),
    count(*) FILTER (WHERE event_type = 'cart'),
    count(*) FILTER (WHERE event_type = 'purchase'),
    count(DISTINCT coalesce(session_id, event_id)) FILTER (WHERE event_type = 'purchase'),
    count(*) FILTER (WHERE event_type = 'return'),
    count(*) FILTER (WHERE event_type = 'search'),
    count(*) FILTER (WHERE event_type = 'review'),
    count(DISTINCT session_id),
    coalesce(sum(coalesce(quantity, 1)) FILTER (WHERE event_type = 'purchase'), 0),
    coalesce(sum(price * coalesce(quantity, 1)) FILTER (WHERE event_type = 'purchase'), 0),
    coalesce(sum(price * coalesce(quantity, 1)) FILTER (WHERE event_type = 'return'), 0),
    count(DISTINCT product_id),
    count(DISTINCT category),
    count(DISTINCT hour(ts)),
    min(ts),
    max(ts),
    count(*) FILTER (WHERE hour(ts) < 6),
    count(*) FILTER (WHERE hour(ts) >= 6 AND hour(ts) < 12),
    count(*) FILTER (WHERE hour(ts) >= 12 AND hour(ts) < 18),
    count(*) FILTER (WHERE hour(ts) >= 18),
    count(*) FILTER (WHERE event_type = 'purchase' AND median_price > 0 AND price IS NOT NULL),
    coalesce(sum(price / median_price)
             FILTER (WHERE event_type = 'purchase' AND median_price > 0 AND price IS NOT NULL), 0),
    count(*) FILTER (WHERE event_type = 'purchase' AND price < median_price),
    $now
FROM day_clean
GROUP BY event_date, user_id;
INSERT INTO features.user_daily_category
SELECT event_date, user_id, category, count(*),
       count(*) FILTER (WHERE event_type = 'purchase'),
       coalesce(sum(price * coalesce(quantity, 1)) FILTER (WHERE event_type = 'purchase'), 0)
FROM day_clean
WHERE category IS NOT NULL
GROUP BY event_date, user_id, category;
INSERT INTO features.user_daily_brand
SELECT event_date, user_id, brand, count(*),
       count(*) FILTER (WHERE event_type = 'purchase'),
       coalesce(sum(price * coalesce(quantity, 1)) FILTER (WHERE event_type = 'purchase'), 0)
FROM day_clean
WHERE brand IS NOT NULL
GROUP BY event_date, user_id, brand;
DROP TABLE day_clean;
