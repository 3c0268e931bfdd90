-- Labelled texts for fine-tuning the encoder, from signals the data carries itself:
--   query   -> category of the first catalogue product the same session touches after the search
--   product -> the product's catalogue category (title and description)
--   review  -> rating band (negative 1-2, mixed 3, positive 4-5)
-- One row per distinct (task, text, label); a text seen with several labels keeps each, with
-- how often it was seen, so the majority label wins on evaluation and training sees the noise.
-- The next category of a search is a window over each session's events in time order, on
-- narrow rows (a 64-bit hash of session and user, the time, the category) joined back to the
-- queries after: the correlated lookup this replaces, and the same window over full rows,
-- ran out of DuckDB's 3 GB at 30M events.
WITH marks AS (
    SELECT hash(session_id, user_id) AS session_key, ts, event_type = 'search' AS is_search, category
    FROM clean.events
    WHERE event_date BETWEEN $first_day AND $last_day AND session_id IS NOT NULL
      AND (event_type = 'search' AND trim(coalesce(query, '')) <> '' OR category IS NOT NULL)
),
next_category AS (
    -- strictly later events only: the frame starts one microsecond after the row, so searches
    -- of one session at the same instant share their label
    SELECT DISTINCT session_key, ts, label
    FROM (SELECT session_key, ts, is_search,
                 first_value(category IGNORE NULLS) OVER (
                     PARTITION BY session_key ORDER BY ts
                     RANGE BETWEEN INTERVAL 1 MICROSECOND FOLLOWING AND UNBOUNDED FOLLOWING) AS label
          FROM marks)
    WHERE is_search AND label IS NOT NULL
),
queries AS (
    SELECT e.query AS text, n.label
    FROM clean.events e
    JOIN next_category n ON n.session_key = hash(e.session_id, e.user_id) AND n.ts = e.ts
    WHERE e.event_date BETWEEN $first_day AND $last_day AND e.session_id IS NOT NULL
      AND e.event_type = 'search' AND trim(coalesce(e.query, '')) <> ''
)
SELECT 'category' AS task, 'query' AS source, text, label, count(*) AS seen
FROM queries
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
