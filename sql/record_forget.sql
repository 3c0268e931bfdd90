-- The forget on record: each user's hash on the suppression list (the first forget's time
-- is kept), and one deletion-log row per table it removed rows from (or one row with
-- table_name NULL when it found nothing).
INSERT INTO meta.suppressed_users
SELECT id_hash, $now::TIMESTAMP FROM forget_ids
ON CONFLICT DO NOTHING;

INSERT INTO meta.deletion_log
SELECT f.id_hash, $now::TIMESTAMP, c.table_name, c.rows_removed
FROM forget_ids f
JOIN (SELECT user_id, table_name, sum(rows_removed)::BIGINT AS rows_removed
      FROM forget_counts GROUP BY ALL) c USING (user_id)
UNION ALL
SELECT f.id_hash, $now::TIMESTAMP, NULL, 0
FROM forget_ids f
WHERE f.user_id NOT IN (SELECT user_id FROM forget_counts);
