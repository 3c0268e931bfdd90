-- Every search query and review text of one day, per user, with counts; the product texts
-- of the day come from select_day_product_texts.sql. Text normalisation and hashing happen in
-- Python; this returns raw texts. (One UNION of the three kinds hung DuckDB 1.4.4 on a
-- 1M-event day with 1 or 2 threads, every thread idle; two queries do not.)
SELECT user_id, 'query' AS kind, query AS text, NULL::VARCHAR AS product_id,
       NULL::VARCHAR AS category, count(*)::INTEGER AS events, count(*)::DOUBLE * $w_query AS weight
FROM clean.events
WHERE event_date = $day AND event_type = 'search' AND query IS NOT NULL
GROUP BY ALL
UNION ALL
SELECT user_id, 'review', review_text, NULL, NULL, count(*), count(*) * $w_review
FROM clean.events
WHERE event_date = $day AND event_type = 'review' AND review_text IS NOT NULL
GROUP BY ALL;
