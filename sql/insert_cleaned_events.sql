-- Outlier rule: a unit price more than $price_outlier_factor times above or below the catalogue
-- price is replaced by the catalogue price; a missing price on a product event is filled from
-- the catalogue; without a catalogue price, prices above $max_price are clamped to it.
INSERT INTO clean.events
SELECT
    $day,
    event_id,
    ts AT TIME ZONE 'UTC',
    user_id, session_id, event_type, product_id, in_catalog, category, brand, product_title,
    CASE
        WHEN event_type = 'search' THEN price
        WHEN price IS NULL AND catalog_price > 0 THEN catalog_price
        WHEN catalog_price > 0 AND (price > catalog_price * $price_outlier_factor
                                    OR price < catalog_price / $price_outlier_factor)
            THEN catalog_price
        WHEN price > $max_price THEN $max_price
        ELSE price
    END,
    price,
    CASE
        WHEN event_type = 'search' THEN NULL
        WHEN price IS NULL AND catalog_price > 0 THEN 'filled_from_catalog'
        WHEN catalog_price > 0 AND (price > catalog_price * $price_outlier_factor
                                    OR price < catalog_price / $price_outlier_factor)
            THEN 'replaced_by_catalog'
        WHEN price > $max_price THEN 'clamped'
    END,
    least(quantity, $max_quantity),
    CASE WHEN quantity > $max_quantity THEN 'clamped' END,
    query, review_text, rating, device, source_file, line_no, $now
FROM day_events
WHERE reason IS NULL;
INSERT INTO clean.events_quarantine
SELECT $day, reason, event_id, ts, event_date, user_id, session_id, event_type, product_id,
       price, quantity, query, review_text, rating, device, source_file, line_no, $now
FROM day_events
WHERE reason IS NOT NULL;
INSERT INTO clean.bot_users
SELECT DISTINCT $day, user_id, bot_events, bot_max_events_per_minute
FROM day_events
WHERE reason = 'bot';
