-- Every text occurrence of one day, per user: search queries, review texts, and the product
-- text (title. description) of each catalogue product the user touched. Text normalisation
-- and hashing happen in Python; this returns raw texts with counts. Product events are
-- counted per (user, product) before the catalogue join, so the long product text is built
-- once per group rather than hashed as a grouping key for every event.
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
       e.events, e.weight
FROM (SELECT user_id, product_id, count(*) AS events,
             sum(CASE event_type WHEN 'purchase' THEN $w_purchase WHEN 'cart' THEN $w_cart
                                 WHEN 'review' THEN $w_purchase ELSE $w_view END) AS weight
      FROM clean.events
      WHERE event_date = $day AND event_type IN ('view', 'cart', 'purchase', 'review')
      GROUP BY ALL) e
JOIN raw.products p USING (product_id)
WHERE coalesce(p.title, p.description) IS NOT NULL;
