-- Occurrences in the profile window with their recency weight, for users with text activity;
-- one row per (user, text).
SELECT o.user_id, o.text_hash,
       sum(o.weight * pow(0.5, date_diff('day', o.event_date, $day::DATE) / $half_life_days)) AS weight,
       max(o.event_date) AS last_date,
       any_value(o.kind) AS kind
FROM ml.text_occurrences o
WHERE o.event_date BETWEEN $day::DATE - ($window_days - 1) AND $day::DATE
  AND EXISTS (SELECT 1 FROM ml.text_embeddings e
              WHERE e.model_version = $version AND e.text_hash = o.text_hash)
GROUP BY ALL
ORDER BY o.user_id, o.text_hash;
