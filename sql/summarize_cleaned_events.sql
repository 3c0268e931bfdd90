-- Counts per rule of the day just cleaned: outcomes from day_flags and the written rows,
-- flags from clean.events.
SELECT 'outcome' AS kind, reason AS name, count(*) AS n FROM day_flags GROUP BY ALL
UNION ALL
SELECT 'outcome', 'clean', count(*) FROM clean.events WHERE event_date = $day
UNION ALL
SELECT 'price_flag', price_flag, count(*) FROM clean.events
WHERE event_date = $day AND price_flag IS NOT NULL GROUP BY ALL
UNION ALL
SELECT 'quantity_flag', quantity_flag, count(*) FROM clean.events
WHERE event_date = $day AND quantity_flag IS NOT NULL GROUP BY ALL
UNION ALL
SELECT 'not_in_catalog', 'events', count(*) FROM clean.events
WHERE event_date = $day AND NOT in_catalog AND product_id IS NOT NULL;
