-- Input: `lines` (line_no, line), one row per physical line of a JSONL file.
-- A view, so the raw text is only copied for lines that end up rejected.
CREATE OR REPLACE TEMP VIEW staged AS
SELECT
    line_no,
    line AS raw_line,
    CASE
        WHEN trim(line, E' \t\r\n') = '' THEN 'empty_line'
        WHEN j IS NULL THEN 'malformed_json'
    END AS parse_error,
    j.event_id, j.ts, j.user_id, j.session_id, j.event_type, j.product_id,
    j.price, j.quantity, j.query, j.review_text, j.rating, j.device
FROM (
    SELECT
        line_no,
        line,
        -- only objects are events; try() turns a parse error into NULL for this line alone
        CASE WHEN starts_with(ltrim(line), '{') THEN try(json_transform(line, '{
            "event_id": "VARCHAR", "ts": "VARCHAR", "user_id": "VARCHAR", "session_id": "VARCHAR",
            "event_type": "VARCHAR", "product_id": "VARCHAR", "price": "VARCHAR", "quantity": "VARCHAR",
            "query": "VARCHAR", "review_text": "VARCHAR", "rating": "VARCHAR", "device": "VARCHAR"}'))
        END AS j
    FROM lines
);
