-- Template ({table} filled in by profiling_assets.forget): count, then delete, the forgotten
-- users' rows of one table with a user_id column.
INSERT INTO forget_counts
SELECT $table_name, user_id, count(*)
FROM {table}
WHERE user_id IN (SELECT user_id FROM forget_ids)
GROUP BY user_id;

DELETE FROM {table} WHERE user_id IN (SELECT user_id FROM forget_ids);
