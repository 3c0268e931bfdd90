-- Input: `lines` (line_no, line), one row per physical line of a JSONL file (with its "\n").
-- A view, so the raw text is only copied for lines that end up rejected. CASE branches are
-- evaluated only for the rows that reach them: the costly trims run on failed lines alone.
CREATE OR REPLACE TEMP VIEW staged AS
SELECT
    line_no,
    line AS raw_line,
    CASE
        WHEN j IS NULL THEN
            CASE WHEN trim(line, E' \t\r\n') = '' THEN 'empty_line' ELSE 'malformed_json' END
        -- an array or object in a scalar field, or true/false as an id, is not a value the
        -- contract has (read as text it would become an id like '[1,2]'). A cheap test on
        -- the whole line picks the suspects (a nested value needs a '[' or a second '{'; the
        -- LIKE runs as two searches, with no copy); json_type() then tells a real array from
        -- text that merely holds a bracket.
        WHEN (contains(line, '[') OR line LIKE '%{%{%'
              OR j.event_id IN ('true', 'false') OR j.user_id IN ('true', 'false')
              OR j.session_id IN ('true', 'false') OR j.product_id IN ('true', 'false'))
             AND (list_has_any(json_type(line, ['$.event_id', '$.ts', '$.user_id', '$.session_id',
                                                '$.event_type', '$.product_id', '$.price',
                                                '$.quantity', '$.query', '$.review_text',
                                                '$.rating', '$.device']), ['ARRAY', 'OBJECT'])
                  OR list_contains(json_type(line, ['$.event_id', '$.user_id', '$.session_id',
                                                    '$.product_id']), 'BOOLEAN'))
            THEN 'non_scalar_value'
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
