-- Text pairs every event log carries, for the encoder's self-supervised (contrastive) task:
--   basket: two different product texts touched in the same session (an invoice in an order
--           export) or by the same user on the same day; within a basket each product is
--           paired with the next one touched (time order, ties in a fixed pseudo-random order,
--           never alphabetical, which would pair look-alike titles), so a long invoice gives
--           n-1 pairs, not n²
--   query:  a search query and the text of the first catalogue product its session touches next
-- One row per distinct pair with the day it was first seen (for the time split) and how often;
-- at most $max_pairs pairs, a fixed pseudo-random subset.
WITH touched AS MATERIALIZED (
    SELECT e.session_id, e.user_id, e.event_date, e.ts, concat_ws('. ', p.title, p.description) AS text
    FROM clean.events e
    JOIN raw.products p USING (product_id)
    WHERE e.event_date BETWEEN $first_day AND $last_day
      AND e.event_type IN ('view', 'cart', 'purchase', 'review')
      AND coalesce(p.title, p.description) IS NOT NULL
),
items AS (
    SELECT 'session' AS basket_kind, session_id || '|' || user_id AS basket, text,
           min(ts) AS first_ts, min(event_date) AS day
    FROM touched WHERE session_id IS NOT NULL
    GROUP BY ALL
    UNION ALL
    SELECT 'user_day', user_id || '|' || event_date, text, min(ts), min(event_date)
    FROM touched
    GROUP BY ALL
),
neighbours AS (
    SELECT text AS a, day,
           lead(text) OVER (PARTITION BY basket_kind, basket ORDER BY first_ts, hash(text)) AS b
    FROM items
),
queries AS (
    SELECT s.query AS a, s.event_date AS day, (
        SELECT t.text FROM touched t
        WHERE t.session_id = s.session_id AND t.user_id = s.user_id AND t.ts > s.ts
        ORDER BY t.ts LIMIT 1) AS b
    FROM clean.events s
    WHERE s.event_date BETWEEN $first_day AND $last_day AND s.event_type = 'search'
      AND s.session_id IS NOT NULL AND trim(coalesce(s.query, '')) <> ''
),
pairs AS (
    SELECT 'basket' AS kind, least(a, b) AS text_a, greatest(a, b) AS text_b,
           min(day) AS first_day, count(*) AS seen
    FROM neighbours WHERE b IS NOT NULL AND a <> b
    GROUP BY ALL
    UNION ALL
    SELECT 'query', a, b, min(day), count(*)
    FROM queries WHERE b IS NOT NULL
    GROUP BY ALL
)
SELECT kind, text_a, text_b, first_day, seen
FROM pairs
ORDER BY hash(kind || text_a || '|' || text_b), kind, text_a, text_b
LIMIT $max_pairs;
