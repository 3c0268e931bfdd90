-- What the forget removed, per user and table.
SELECT user_id, table_name, sum(rows_removed)::BIGINT
FROM forget_counts
GROUP BY ALL
ORDER BY user_id, table_name;
