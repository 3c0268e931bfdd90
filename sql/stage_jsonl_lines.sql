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
        -- contract has (read as text it would become an id like '[1,2]'). The cheap test on
        -- the text picks the suspects; json_type() then tells a real array from a string
        -- that merely starts with '['.
        WHEN (left(j.event_id, 1) IN ('[', '{') OR left(j.ts, 1) IN ('[', '{')
              OR left(j.user_id, 1) IN ('[', '{') OR left(j.session_id, 1) IN ('[', '{')
              OR left(j.event_type, 1) IN ('[', '{') OR left(j.product_id, 1) IN ('[', '{')
              OR left(j.price, 1) IN ('[', '{') OR left(j.quantity, 1) IN ('[', '{')
              OR left(j.query, 1) IN ('[', '{') OR left(j.review_text, 1) IN ('[', '{')
              OR left(j.rating, 1) IN ('[', '{') OR left(j.device, 1) IN ('[', '{')
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
