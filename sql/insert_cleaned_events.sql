-- The day's raw events less the rows stage_cleaned_events refused (day_flags), joined to the
-- catalogue. Outlier rule: a unit price more than $price_outlier_factor times above or below
-- the catalogue price is replaced by the catalogue price; a missing price on a product event
-- is filled from the catalogue; without a catalogue price, prices above $max_price are
-- clamped to it.
INSERT INTO clean.events
WITH catalog AS (
    SELECT product_id, category, brand, title, price AS catalog_price FROM raw.products
)
SELECT
    $day,
    e.event_id,
    -- the UTC wall time, by arithmetic (AT TIME ZONE goes through the calendar: slower)
    make_timestamp(epoch_us(e.ts)),
    e.user_id, e.session_id, e.event_type, e.product_id, c.product_id IS NOT NULL,
    c.category, c.brand, c.title,
    CASE
        WHEN e.event_type = 'search' THEN e.price
        WHEN e.price IS NULL AND c.catalog_price > 0 THEN c.catalog_price
        WHEN c.catalog_price > 0 AND (e.price > c.catalog_price * $price_outlier_factor
                                      OR e.price < c.catalog_price / $price_outlier_factor)
            THEN c.catalog_price
        WHEN e.price > $max_price THEN $max_price
        ELSE e.price
    END,
    e.price,
    CASE
        WHEN e.event_type = 'search' THEN NULL
        WHEN e.price IS NULL AND c.catalog_price > 0 THEN 'filled_from_catalog'
        WHEN c.catalog_price > 0 AND (e.price > c.catalog_price * $price_outlier_factor
                                      OR e.price < c.catalog_price / $price_outlier_factor)
            THEN 'replaced_by_catalog'
        WHEN e.price > $max_price THEN 'clamped'
    END,
    least(e.quantity, $max_quantity),
    CASE WHEN e.quantity > $max_quantity THEN 'clamped' END,
    e.query, e.review_text, e.rating, e.device, e.source_file, e.line_no, $now
FROM raw.events e
ANTI JOIN day_flags f ON f.source_file = e.source_file AND f.line_no = e.line_no
LEFT JOIN catalog c ON c.product_id = e.product_id
WHERE e.partition_date = $day;
INSERT INTO clean.events_quarantine
SELECT $day, f.reason, e.event_id, e.ts, e.event_date, e.user_id, e.session_id, e.event_type,
       e.product_id, e.price, e.quantity, e.query, e.review_text, e.rating, e.device,
       e.source_file, e.line_no, $now
FROM raw.events e
JOIN day_flags f ON f.source_file = e.source_file AND f.line_no = e.line_no
WHERE e.partition_date = $day;
INSERT INTO clean.bot_users
SELECT DISTINCT $day, user_id, bot_events, bot_max_events_per_minute
FROM day_flags
WHERE reason = 'bot';
