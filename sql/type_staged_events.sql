-- Types the staged text fields and gives each line its first failed contract rule (NULL = accepted).
-- Semantic rules (negative prices, future or wrong-day timestamps, bots) belong to cleaning;
-- here a line is refused only when it cannot be represented as a typed event.
-- A table macro over the current `staged` relation: append_day_typed stores its rows
-- straight into day_typed, with no copy in between.
CREATE OR REPLACE TEMP MACRO typed_events(max_id_length, suppress, forget_key) AS TABLE
WITH v AS (
    SELECT
        line_no,
        raw_line,
        parse_error,
        nullif(trim(event_id), '') AS event_id,
        nullif(trim(ts), '') AS ts_text,
        try_cast(nullif(trim(ts), '') AS TIMESTAMPTZ) AS ts,
        nullif(trim(user_id), '') AS user_id,
        nullif(trim(session_id), '') AS session_id,
        lower(trim(event_type)) AS event_type,
        nullif(trim(product_id), '') AS product_id,
        nullif(trim(price), '') AS price_text,
        try_cast(nullif(trim(price), '') AS DOUBLE) AS price,
        nullif(trim(quantity), '') AS quantity_text,
        try_cast(nullif(trim(quantity), '') AS DOUBLE) AS quantity,
        nullif(trim(rating), '') AS rating_text,
        try_cast(nullif(trim(rating), '') AS DOUBLE) AS rating,
        nullif(query, '') AS query,
        nullif(review_text, '') AS review_text,
        nullif(trim(device), '') AS device
    FROM staged
), r AS (
    SELECT *,
        CASE
            WHEN parse_error IS NOT NULL THEN parse_error
            WHEN event_id IS NULL THEN 'missing_event_id'
            WHEN user_id IS NULL THEN 'missing_user_id'
            -- ids are keys and labels downstream: bounded, and free of control characters
            -- (NUL, newlines, escapes) that break exports and terminals
            WHEN length(event_id) > max_id_length OR length(user_id) > max_id_length
                 OR length(session_id) > max_id_length OR length(product_id) > max_id_length
                THEN 'id_too_long'
            -- (one match over the four ids, a NULL adding nothing: a call per id cost four)
            WHEN regexp_matches(concat(event_id, user_id, session_id, product_id), '[\x00-\x1f\x7f]')
                THEN 'id_control_characters'
            -- a user who asked to be forgotten (profiling-assets forget) stays out, whatever
            -- old landing files say; the line is counted but not kept (see docs/privacy.md)
            WHEN suppress AND sha256(forget_key || ':' || user_id) IN (SELECT id_hash FROM meta.suppressed_users)
                THEN 'suppressed_user'
            WHEN event_type IS NULL THEN 'missing_event_type'
            WHEN event_type NOT IN ('view', 'cart', 'purchase', 'search', 'review', 'return')
                THEN 'unknown_event_type'
            WHEN ts_text IS NULL THEN 'missing_timestamp'
            -- the contract requires a zone: a naive time would silently shift by the reader's zone
            WHEN NOT regexp_matches(ts_text, '([zZ]|[+-]\d\d(:?\d\d)?)$') THEN 'timestamp_without_zone'
            WHEN ts IS NULL OR NOT isfinite(ts) THEN 'bad_timestamp'
            WHEN price_text IS NOT NULL AND (price IS NULL OR NOT isfinite(price)) THEN 'bad_price'
            WHEN quantity_text IS NOT NULL AND (quantity IS NULL OR quantity <> round(quantity)
                 OR abs(quantity) > 2147483647) THEN 'bad_quantity'
            WHEN rating_text IS NOT NULL AND (rating IS NULL OR rating <> round(rating)
                 OR abs(rating) > 2147483647) THEN 'bad_rating'
            WHEN product_id IS NULL AND event_type <> 'search' THEN 'missing_product_id'
        END AS reason
    FROM v
)
SELECT
    line_no, reason,
    CASE WHEN reason IS NOT NULL AND reason <> 'suppressed_user' THEN rtrim(raw_line, E'\r\n') END AS raw_line,
    event_id, ts, user_id, session_id, event_type, product_id, price,
    try_cast(quantity AS INTEGER) AS quantity, query, review_text,
    try_cast(rating AS INTEGER) AS rating, device
FROM r;
