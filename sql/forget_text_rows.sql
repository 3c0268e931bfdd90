-- Template ({table} filled in by profiling_assets.forget): count, then delete, the rows of a
-- text table (a text_hash column, no user_id) whose text a forgotten user wrote and nobody
-- else is linked to any more (their own occurrences are already gone). A text another user
-- also wrote or touched stays: it no longer links to the forgotten user.
INSERT INTO forget_counts
SELECT $table_name, f.user_id, count(*)
FROM {table} t
JOIN forget_texts f USING (text_hash)
WHERE t.text_hash NOT IN (SELECT text_hash FROM ml.text_occurrences)
GROUP BY f.user_id;

DELETE FROM {table}
WHERE text_hash IN (SELECT text_hash FROM forget_texts)
  AND text_hash NOT IN (SELECT text_hash FROM ml.text_occurrences);
