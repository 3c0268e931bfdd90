-- Text pairs every event log carries, for the encoder's self-supervised (contrastive) task:
--   basket: two different product texts touched in the same session (an invoice in an order
--           export) or by the same user on the same day; within a basket each product is
--           paired with the next one touched (time order, ties in a fixed pseudo-random order,
--           never alphabetical, which would pair look-alike titles), so a long invoice gives
--           n-1 pairs, not n²
--   query:  a search query and the text of the first catalogue product its session touches next
-- One row per distinct pair with the day it was first seen (for the time split) and how often;
-- at most $max_pairs pairs, a fixed pseudo-random subset.
-- In steps through temporary tables, which spill to disk, with a number per distinct product
-- text in place of the text: the single query this replaces held every touched text in
-- memory and ran out of it at 30M events.
CREATE OR REPLACE TEMP TABLE pair_texts AS
SELECT text, row_number() OVER (ORDER BY text) AS text_id, hash(text) AS shuffle
FROM (SELECT DISTINCT concat_ws('. ', title, description) AS text
      FROM raw.products WHERE coalesce(title, description) IS NOT NULL);

-- the product touches of the window, by text number (numbered in text order, so that least()
-- and greatest() of two numbers are those of the texts)
CREATE OR REPLACE TEMP TABLE pair_touches AS
SELECT e.session_id, e.user_id, e.event_date, e.ts, t.text_id, t.shuffle
FROM clean.events e
JOIN (SELECT product_id, concat_ws('. ', title, description) AS text FROM raw.products
      WHERE coalesce(title, description) IS NOT NULL) p USING (product_id)
JOIN pair_texts t USING (text)
WHERE e.event_date BETWEEN $first_day AND $last_day
  AND e.event_type IN ('view', 'cart', 'purchase', 'review');

CREATE OR REPLACE TEMP TABLE pair_neighbours AS
SELECT text_id AS a, day,
       lead(text_id) OVER (PARTITION BY session_id, user_id ORDER BY first_ts, shuffle) AS b
FROM (SELECT session_id, user_id, text_id, any_value(shuffle) AS shuffle, min(ts) AS first_ts,
             min(event_date) AS day
      FROM pair_touches WHERE session_id IS NOT NULL
      GROUP BY ALL);

INSERT INTO pair_neighbours
SELECT text_id, day,
       lead(text_id) OVER (PARTITION BY user_id, event_date ORDER BY first_ts, shuffle)
FROM (SELECT user_id, event_date, text_id, any_value(shuffle) AS shuffle, min(ts) AS first_ts,
             min(event_date) AS day
      FROM pair_touches
      GROUP BY ALL);

-- a search and the first product its session touches strictly after it (an as-of join)
CREATE OR REPLACE TEMP TABLE pair_queries AS
SELECT s.query AS a, s.event_date AS day, t.text_id AS b
FROM clean.events s
ASOF JOIN (SELECT session_id, user_id, ts, text_id FROM pair_touches WHERE session_id IS NOT NULL) t
    ON s.session_id = t.session_id AND s.user_id = t.user_id AND t.ts > s.ts
WHERE s.event_date BETWEEN $first_day AND $last_day AND s.event_type = 'search'
  AND s.session_id IS NOT NULL AND trim(coalesce(s.query, '')) <> '';

CREATE OR REPLACE TEMP TABLE pair_counts AS
SELECT 'basket' AS kind, NULL::VARCHAR AS query, least(a, b) AS a, greatest(a, b) AS b,
       min(day) AS first_day, count(*) AS seen
FROM pair_neighbours WHERE b IS NOT NULL AND a <> b
GROUP BY ALL
UNION ALL
SELECT 'query', a, NULL, b, min(day), count(*)
FROM pair_queries
GROUP BY ALL;

DROP TABLE pair_touches;
DROP TABLE pair_neighbours;
DROP TABLE pair_queries;

SELECT p.kind, coalesce(p.query, ta.text) AS text_a, tb.text AS text_b, p.first_day, p.seen
FROM pair_counts p
LEFT JOIN pair_texts ta ON ta.text_id = p.a
JOIN pair_texts tb ON tb.text_id = p.b
ORDER BY hash(p.kind || text_a || '|' || text_b), p.kind, text_a, text_b
LIMIT $max_pairs;
