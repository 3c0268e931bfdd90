-- Template ({table}, {column} filled in by profiling_assets.forget): the texts a forgotten
-- user wrote in one text column of one table; Python normalises and hashes them as the text
-- assets do.
SELECT DISTINCT user_id, {column} AS text
FROM {table}
WHERE user_id IN (SELECT user_id FROM forget_ids) AND {column} IS NOT NULL;
