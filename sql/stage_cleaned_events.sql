-- The rows of one day's raw events that the cleaning rules refuse, with the first rule each
-- fails, in this order:
--   1. row rules: future_timestamp, wrong_day, negative_price, bad_quantity, bad_rating
--   2. exact_duplicate: same content as an earlier line (first by source_file, line_no is kept)
--   3. duplicate_event_id: a second, different event with an id already kept (earliest ts kept)
--   4. bot: user with >= $bot_events_per_day browsing events (view, search) in the day, or
--      >= $bot_events_per_minute of them in one clock minute
-- Only refused rows are kept (a few per cent of the day): insert_cleaned_events writes the rest
-- straight from raw.events, so the day is never copied whole into a staging table.
CREATE OR REPLACE TEMP TABLE day_flags AS
WITH src AS NOT MATERIALIZED (
    -- read again by each use below: a narrow scan of raw.events costs less than a copy
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
    -- ranking only the few rows whose id repeats is much cheaper than windows over the day.
    -- Grouped by the id's 64-bit hash, several times cheaper than by the text: a collision
    -- only adds a candidate, which the exact ranking below then keeps.
    SELECT hash(event_id) AS id_hash FROM src WHERE rule_reason IS NULL
    GROUP BY id_hash HAVING count(*) > 1
), copies AS (
    SELECT source_file, line_no, event_id, ts,
        row_number() OVER (
            PARTITION BY event_id, hash(ts, user_id, session_id, event_type, product_id, price,
                                        quantity, query, review_text, rating, device)
            ORDER BY source_file, line_no) AS copy_no
    FROM src
    WHERE rule_reason IS NULL AND hash(event_id) IN (SELECT id_hash FROM dup_ids)
), firsts AS (
    SELECT source_file, line_no,
        row_number() OVER (PARTITION BY event_id ORDER BY ts, source_file, line_no) AS id_no
    FROM copies
    WHERE copy_no = 1
), refused AS MATERIALIZED (
    SELECT source_file, line_no, rule_reason AS reason FROM src WHERE rule_reason IS NOT NULL
    UNION ALL
    SELECT source_file, line_no, 'exact_duplicate' FROM copies WHERE copy_no > 1
    UNION ALL
    SELECT source_file, line_no, 'duplicate_event_id' FROM firsts WHERE id_no > 1
), browsing AS NOT MATERIALIZED (
    -- browsing only: an order export stamps every line of a large invoice with one time,
    -- which is a wholesale buyer, not a bot
    SELECT user_id, ts
    FROM src ANTI JOIN refused USING (source_file, line_no)
    WHERE rule_reason IS NULL AND event_type IN ('view', 'search')
), candidates AS (
    -- a bot has at least the smaller threshold's number of browsing events in the day: only
    -- those users' minutes are counted, a fraction of the cost of counting everyone's
    SELECT user_id FROM browsing
    GROUP BY user_id
    HAVING count(*) >= least($bot_events_per_day, $bot_events_per_minute)
), per_minute AS (
    -- the clock minute counted from the day's start (every row here lies within the UTC
    -- day): integer arithmetic, where date_trunc on a TIMESTAMPTZ goes through the calendar
    SELECT user_id, (epoch_us(ts) - epoch_us($day::DATE::TIMESTAMP)) // 60000000 AS minute,
           count(*) AS n
    FROM browsing SEMI JOIN candidates USING (user_id)
    GROUP BY ALL
), bots AS (
    SELECT user_id, sum(n) AS events, max(n) AS max_events_per_minute
    FROM per_minute
    GROUP BY user_id
    HAVING sum(n) >= $bot_events_per_day OR max(n) >= $bot_events_per_minute
)
SELECT source_file, line_no, reason, NULL AS user_id, NULL::BIGINT AS bot_events,
       NULL::BIGINT AS bot_max_events_per_minute
FROM refused
UNION ALL
-- every other row of a bot: its browsing and its orders alike
SELECT s.source_file, s.line_no, 'bot', s.user_id, b.events, b.max_events_per_minute
FROM src s
JOIN bots b USING (user_id)
ANTI JOIN refused r ON r.source_file = s.source_file AND r.line_no = s.line_no
WHERE s.rule_reason IS NULL;
