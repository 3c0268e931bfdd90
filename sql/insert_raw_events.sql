-- The day's gathered lines (create_day_typed) into the raw tables: accepted lines typed,
-- refused ones verbatim with their reason.
INSERT INTO raw.events
SELECT $day, source_file, line_no, event_id, ts, (ts AT TIME ZONE 'UTC')::DATE, user_id,
       session_id, event_type, product_id, price, quantity, query, review_text, rating, device,
       $loaded_at
FROM day_typed
WHERE reason IS NULL;
INSERT INTO raw.events_rejected
SELECT $day, source_file, line_no, raw_line, reason, $loaded_at
FROM day_typed
WHERE reason IS NOT NULL;
DROP TABLE day_typed;
