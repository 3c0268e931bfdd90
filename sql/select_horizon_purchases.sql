-- Evaluation truth: who bought what in $first_day..$last_day (distinct pairs; re-orders of
-- items bought before count like new items).
SELECT DISTINCT user_id, product_id
FROM clean.events
WHERE event_type = 'purchase' AND product_id IS NOT NULL
  AND event_date BETWEEN $first_day::DATE AND $last_day::DATE;
