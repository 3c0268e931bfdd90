-- The texts a forgotten user wrote as the text assets recorded them (their queries and
-- reviews; product texts are the catalogue's, not theirs).
INSERT INTO forget_texts
SELECT DISTINCT user_id, text_hash
FROM ml.text_occurrences
WHERE user_id IN (SELECT user_id FROM forget_ids) AND kind IN ('query', 'review');
