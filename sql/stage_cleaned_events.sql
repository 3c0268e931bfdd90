-- One day's raw events with the cleaning rules applied, in this order:
--   1. row rules: future_timestamp, wrong_day, negative_price, bad_quantity, bad_rating
--   2. exact_duplicate: same content as an earlier line (first by source_file, line_no is kept)
--   3. duplicate_event_id: a second, different event with an id already kept (earliest ts kept)
--   4. bot: user with >= $bot_events_per_day events in the day or >= $bot_events_per_minute in one minute
-- Rows with a reason are quarantined; the rest are cleaned (outliers replaced or clamped, flagged).
CREATE OR REPLACE TEMP TABLE day_events AS
WITH src AS (
    SELECT *,
        hash(ts, user_id, session_id, event_type, product_id, price, quantity, query,
             review_text, rating, device) AS content_hash,
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
), exact AS (
    SELECT *,
        row_number() OVER (PARTITION BY rule_reason IS NULL, event_id, content_hash
                           ORDER BY source_file, line_no) AS copy_no
    FROM src
), by_id AS (
    SELECT *,
        row_number() OVER (PARTITION BY rule_reason IS NULL AND copy_no = 1, event_id
                           ORDER BY ts, source_file, line_no) AS id_no
    FROM exact
), deduped AS (
    SELECT *,
        coalesce(rule_reason,
                 CASE WHEN copy_no > 1 THEN 'exact_duplicate'
                      WHEN id_no > 1 THEN 'duplicate_event_id' END) AS pre_bot_reason
    FROM by_id
), per_minute AS (
    SELECT user_id, date_trunc('minute', ts) AS minute, count(*) AS n
    FROM deduped
    WHERE pre_bot_reason IS NULL
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
    d.* EXCLUDE (content_hash, rule_reason, copy_no, id_no, pre_bot_reason),
    coalesce(d.pre_bot_reason, CASE WHEN b.user_id IS NOT NULL THEN 'bot' END) AS reason,
    b.events AS bot_events,
    b.max_events_per_minute AS bot_max_events_per_minute,
    c.product_id IS NOT NULL AS in_catalog,
    c.category, c.brand, c.title AS product_title, c.catalog_price
FROM deduped d
LEFT JOIN bots b USING (user_id)
LEFT JOIN catalog c ON c.product_id = d.product_id;
