-- Every text occurrence of one day, per user: search queries, review texts, and the product
-- text (title. description) of each catalogue product the user touched. Text normalisation
-- and hashing happen in Python; this returns raw texts with counts.
SELECT user_id, 'query' AS kind, query AS text, NULL::VARCHAR AS product_id,
       NULL::VARCHAR AS category, count(*)::INTEGER AS events, count(*)::DOUBLE * $w_query AS weight
FROM clean.events
WHERE event_date = $day AND event_type = 'search' AND query IS NOT NULL
GROUP BY ALL
UNION ALL
SELECT user_id, 'review', review_text, NULL, NULL, count(*), count(*) * $w_review
FROM clean.events
WHERE event_date = $day AND event_type = 'review' AND review_text IS NOT NULL
GROUP BY ALL
UNION ALL
SELECT e.user_id, 'product', concat_ws('. ', p.title, p.description), e.product_id, p.category,
       count(*),
       sum(CASE e.event_type WHEN 'purchase' THEN $w_purchase WHEN 'cart' THEN $w_cart
                             WHEN 'review' THEN $w_purchase ELSE $w_view END)
FROM clean.events e
JOIN raw.products p USING (product_id)
WHERE e.event_date = $day AND e.event_type IN ('view', 'cart', 'purchase', 'review')
  AND coalesce(p.title, p.description) IS NOT NULL
GROUP BY ALL;
