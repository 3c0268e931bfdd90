-- Five clean events of the day for the run's metadata: ids, values and flags; free text
-- (queries, reviews) is shown by its length, never verbatim (previews live in the run log).
SELECT event_id, ts, user_id, session_id, event_type, product_id, category, price, price_flag,
       quantity, rating, device, length(query) AS query_chars, length(review_text) AS review_chars
FROM clean.events
WHERE event_date = $day
LIMIT 5
