-- The day's gathered lines (create_day_typed) into the raw tables: accepted lines typed,
-- refused ones verbatim with their reason. event_date is the UTC day of ts, by arithmetic:
-- AT TIME ZONE goes through the calendar, several times slower.
INSERT INTO raw.events
SELECT $day, source_file, line_no, event_id, ts, make_timestamp(epoch_us(ts))::DATE, user_id,
       session_id, event_type, product_id, price, quantity, query, review_text, rating, device,
       $loaded_at
FROM day_typed
WHERE reason IS NULL;
INSERT INTO raw.events_rejected
SELECT $day, source_file, line_no, raw_line, reason, $loaded_at
FROM day_typed
WHERE reason IS NOT NULL;
