-- Labelled texts for fine-tuning the encoder, from signals the data carries itself:
--   query   -> category of the first catalogue product the same session touches after the search
--   product -> the product's catalogue category (title and description)
--   review  -> rating band (negative 1-2, mixed 3, positive 4-5)
-- One row per distinct (task, text, label); a text seen with several labels keeps each, with
-- how often it was seen, so the majority label wins on evaluation and training sees the noise.
-- The next category of a search is a window over each session's events in time order (a
-- window spills to disk; the correlated lookup it replaces ran out of memory at 30M events).
WITH session_events AS (
    SELECT session_id, user_id, ts, event_type, query, category
    FROM clean.events
    WHERE event_date BETWEEN $first_day AND $last_day AND session_id IS NOT NULL
      AND (event_type = 'search' OR category IS NOT NULL)
),
queries AS (
    SELECT query AS text, label
    FROM (
        SELECT event_type, query,
               -- strictly later events only: the frame starts one microsecond after the row
               first_value(category IGNORE NULLS) OVER (
                   PARTITION BY session_id, user_id ORDER BY ts
                   RANGE BETWEEN INTERVAL 1 MICROSECOND FOLLOWING AND UNBOUNDED FOLLOWING) AS label
        FROM session_events
    )
    WHERE event_type = 'search' AND query IS NOT NULL
)
SELECT 'category' AS task, 'query' AS source, text, label, count(*) AS seen
FROM queries WHERE label IS NOT NULL AND trim(text) <> ''
GROUP BY ALL
UNION ALL
SELECT 'category', 'product', concat_ws('. ', title, description), category, 1
FROM raw.products WHERE category IS NOT NULL AND coalesce(title, description) IS NOT NULL
UNION ALL
SELECT 'rating_band', 'review', review_text,
       CASE WHEN rating <= 2 THEN 'negative' WHEN rating = 3 THEN 'mixed' ELSE 'positive' END,
       count(*)
FROM clean.events
WHERE event_date BETWEEN $first_day AND $last_day AND event_type = 'review'
  AND rating IS NOT NULL AND trim(coalesce(review_text, '')) <> ''
GROUP BY ALL
ORDER BY task, source, text, label;
