-- One day's raw events with the cleaning rules applied, in this order:
--   1. row rules: future_timestamp, wrong_day, negative_price, bad_quantity, bad_rating
--   2. exact_duplicate: same content as an earlier line (first by source_file, line_no is kept)
--   3. duplicate_event_id: a second, different event with an id already kept (earliest ts kept)
--   4. bot: user with >= $bot_events_per_day browsing events (view, search) in the day, or
--      >= $bot_events_per_minute of them in one clock minute
-- Rows with a reason are quarantined; the rest are cleaned (outliers replaced or clamped, flagged).
CREATE OR REPLACE TEMP TABLE day_events AS
WITH src AS MATERIALIZED (
    SELECT *,
        CASE
            WHEN ts > $now::TIMESTAMPTZ + INTERVAL 10 MINUTE THEN 'future_timestamp'
            WHEN event_date <> $day THEN 'wrong_day'
            WHEN price < 0 THEN 'negative_price'
            WHEN event_type IN ('cart', 'purchase', 'return') AND quantity <= 0 THEN 'bad_quantity'
            WHEN event_type = 'review' AND (rating IS NULL OR rating NOT BETWEEN 1 AND 5)
                THEN 'bad_rating'
        END AS rule_reason
    FROM raw.events
    WHERE partition_date = $day
), dup_ids AS (
    -- ranking only the few rows whose id repeats is much cheaper than windows over the day
    SELECT event_id FROM src WHERE rule_reason IS NULL GROUP BY event_id HAVING count(*) > 1
), copies AS (
    SELECT source_file, line_no, event_id, ts,
        row_number() OVER (
            PARTITION BY event_id, hash(ts, user_id, session_id, event_type, product_id, price,
                                        quantity, query, review_text, rating, device)
            ORDER BY source_file, line_no) AS copy_no
    FROM src SEMI JOIN dup_ids USING (event_id)
    WHERE rule_reason IS NULL
), firsts AS (
    SELECT source_file, line_no,
        row_number() OVER (PARTITION BY event_id ORDER BY ts, source_file, line_no) AS id_no
    FROM copies
    WHERE copy_no = 1
), dup_reasons AS (
    SELECT source_file, line_no, 'exact_duplicate' AS dup_reason FROM copies WHERE copy_no > 1
    UNION ALL
    SELECT source_file, line_no, 'duplicate_event_id' FROM firsts WHERE id_no > 1
), deduped AS MATERIALIZED (
    SELECT s.*, coalesce(s.rule_reason, d.dup_reason) AS pre_bot_reason
    FROM src s
    LEFT JOIN dup_reasons d USING (source_file, line_no)
), per_minute AS (
    SELECT user_id, date_trunc('minute', ts) AS minute, count(*) AS n
    FROM deduped
    -- browsing only: an order export stamps every line of a large invoice with one time,
    -- which is a wholesale buyer, not a bot
    WHERE pre_bot_reason IS NULL AND event_type IN ('view', 'search')
    GROUP BY ALL
), bots AS (
    SELECT user_id, sum(n) AS events, max(n) AS max_events_per_minute
    FROM per_minute
    GROUP BY user_id
    HAVING sum(n) >= $bot_events_per_day OR max(n) >= $bot_events_per_minute
), catalog AS (
    SELECT product_id, category, brand, title, price AS catalog_price FROM raw.products
)
SELECT
    d.* EXCLUDE (rule_reason, pre_bot_reason),
    coalesce(d.pre_bot_reason, CASE WHEN b.user_id IS NOT NULL THEN 'bot' END) AS reason,
    b.events AS bot_events,
    b.max_events_per_minute AS bot_max_events_per_minute,
    c.product_id IS NOT NULL AS in_catalog,
    c.category, c.brand, c.title AS product_title, c.catalog_price
FROM deduped d
LEFT JOIN bots b USING (user_id)
LEFT JOIN catalog c ON c.product_id = d.product_id;
