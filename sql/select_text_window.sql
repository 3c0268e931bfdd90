-- Occurrences in the profile window with their recency weight: one row per occurrence (a
-- (user, text) pair has one per day it occurred on). text.py sums them per (user, text) over
-- integer codes and keeps the texts this encoder version has embedded (it reads their vectors
-- anyway): grouping, sorting and semi-joining the window's ~5M (user, text hash) string pairs
-- here cost several times more. kind as a code (0 query, 1 review, 2 product, NULL other).
-- A window read in {passes} passes returns the users of pass {part} (0-based) each time; the
-- two are literals, not parameters: with parameters DuckDB evaluated the filter 12x slower.
SELECT o.user_id, o.text_hash,
       o.weight * pow(0.5, date_diff('day', o.event_date, $day::DATE) / $half_life_days) AS weight,
       o.event_date,
       (CASE o.kind WHEN 'query' THEN 0 WHEN 'review' THEN 1 WHEN 'product' THEN 2 END)::TINYINT AS kind
FROM ml.text_occurrences o
WHERE o.event_date BETWEEN $day::DATE - ($window_days - 1) AND $day::DATE
  AND hash(o.user_id) % {passes}::UBIGINT = {part}::UBIGINT;
