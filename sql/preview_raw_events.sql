-- Five accepted lines of the day for the run's metadata: ids and values only; free text
-- (queries, reviews) is shown by its length, never verbatim (previews live in the run log).
SELECT source_file, line_no, event_id, ts, user_id, session_id, event_type, product_id, price,
       quantity, rating, device, length(query) AS query_chars, length(review_text) AS review_chars
FROM raw.events
WHERE partition_date = $day
LIMIT 5
