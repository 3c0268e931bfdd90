SELECT 'outcome' AS kind, coalesce(reason, 'clean') AS name, count(*) AS n FROM day_events GROUP BY ALL
UNION ALL
SELECT 'price_flag', price_flag, count(*) FROM clean.events
WHERE event_date = $day AND price_flag IS NOT NULL GROUP BY ALL
UNION ALL
SELECT 'quantity_flag', quantity_flag, count(*) FROM clean.events
WHERE event_date = $day AND quantity_flag IS NOT NULL GROUP BY ALL
UNION ALL
SELECT 'not_in_catalog', 'events', count(*) FROM clean.events
WHERE event_date = $day AND NOT in_catalog AND product_id IS NOT NULL;
