-- Input: `lines` (line_no, line), one row per physical line of a JSONL file (with its "\n").
-- A view, so the raw text is only copied for lines that end up rejected. CASE branches are
-- evaluated only for the rows that reach them: the costly trims run on failed lines alone.
CREATE OR REPLACE TEMP VIEW staged AS
SELECT
    line_no,
    line AS raw_line,
    CASE WHEN j IS NULL THEN
        CASE WHEN trim(line, E' \t\r\n') = '' THEN 'empty_line' ELSE 'malformed_json' END
    END AS parse_error,
    j.event_id, j.ts, j.user_id, j.session_id, j.event_type, j.product_id,
    j.price, j.quantity, j.query, j.review_text, j.rating, j.device
FROM (
    SELECT
        line_no,
        line,
        -- only objects are events. json_valid() guards the parse instead of try(): one error
        -- in a vector sends try() down a row-by-row path, several times slower.
        CASE WHEN (left(line, 1) = '{' OR starts_with(ltrim(line), '{')) AND json_valid(line)
        THEN json_transform(line, '{
            "event_id": "VARCHAR", "ts": "VARCHAR", "user_id": "VARCHAR", "session_id": "VARCHAR",
            "event_type": "VARCHAR", "product_id": "VARCHAR", "price": "VARCHAR", "quantity": "VARCHAR",
            "query": "VARCHAR", "review_text": "VARCHAR", "rating": "VARCHAR", "device": "VARCHAR"}')
        END AS j
    FROM lines
);
