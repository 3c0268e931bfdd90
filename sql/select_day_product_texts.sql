-- The product text (title. description) of each catalogue product a user touched on one day,
-- with the events and their weight; same columns as select_day_texts.sql. Product events are
-- counted per (user, product) before the catalogue join, so the long product text is built
-- once per group rather than hashed as a grouping key for every event.
SELECT e.user_id, 'product' AS kind, concat_ws('. ', p.title, p.description) AS text,
       e.product_id, p.category::VARCHAR AS category, e.events::INTEGER AS events,
       e.weight::DOUBLE AS weight
FROM (SELECT user_id, product_id, count(*) AS events,
             sum(CASE event_type WHEN 'purchase' THEN $w_purchase WHEN 'cart' THEN $w_cart
                                 WHEN 'review' THEN $w_purchase ELSE $w_view END) AS weight
      FROM clean.events
      WHERE event_date = $day AND event_type IN ('view', 'cart', 'purchase', 'review')
      GROUP BY ALL) e
JOIN raw.products p USING (product_id)
WHERE coalesce(p.title, p.description) IS NOT NULL;
