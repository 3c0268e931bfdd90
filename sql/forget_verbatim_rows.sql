-- Template ({table}, {column} filled in by profiling_assets.forget): count, then delete, the
-- verbatim lines or rows that carry a forgotten user's id as a whole field value:
--   JSON: the id right after a colon, quoted or not, then a comma, a closing brace or the end
--         of the text (a truncated line still matches), e.g. "user_id": "U42",
--   CSV:  a comma-separated field equal to the id once spaces and double quotes are trimmed.
-- Any field counts, not only user_id: a rejected line may have its columns shifted or
-- misnamed. An id that merely occurs inside a longer value (U4 in U42, in a review) does not.
INSERT INTO forget_counts
SELECT $table_name, f.user_id, count(*)
FROM {table} t
JOIN forget_ids f
  ON regexp_matches(t.{column}, ':\s*"?' || f.id_pattern || '"?\s*(,|\}|$)')
  OR list_contains(list_transform(string_split(t.{column}, ','), lambda x: trim(x, ' "')), f.user_id)
GROUP BY f.user_id;

DELETE FROM {table} t
WHERE EXISTS (
    SELECT 1 FROM forget_ids f
    WHERE regexp_matches(t.{column}, ':\s*"?' || f.id_pattern || '"?\s*(,|\}|$)')
       OR list_contains(list_transform(string_split(t.{column}, ','), lambda x: trim(x, ' "')), f.user_id)
);
