-- Every base table of the warehouse that can hold a user, read from the catalog so that a
-- table added later is covered without a change here: a user_id column (their rows), VARCHAR
-- columns named raw_* (verbatim input lines or rows that may carry their id), query /
-- review_text (texts they wrote), or text_hash (cached texts, removed when only they wrote
-- them). The meta schema is the forget's own record and holds no id in clear.
SELECT c.table_schema, c.table_name,
       bool_or(c.column_name = 'user_id') AS has_user_id,
       coalesce(list(c.column_name ORDER BY c.column_name) FILTER (
           WHERE c.column_name LIKE 'raw\_%' ESCAPE '\' AND c.data_type = 'VARCHAR'), []) AS verbatim,
       coalesce(list(c.column_name ORDER BY c.column_name) FILTER (
           WHERE c.column_name IN ('query', 'review_text') AND c.data_type = 'VARCHAR'), []) AS texts,
       bool_or(c.column_name = 'text_hash') AS has_text_hash
FROM information_schema.columns c
JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)
WHERE c.table_catalog = current_database() AND t.table_type = 'BASE TABLE'
  AND c.table_schema <> 'meta'
GROUP BY ALL
HAVING has_user_id OR len(verbatim) > 0 OR has_text_hash
ORDER BY 1, 2;
