-- The temporary tables select_text_pair_examples leaves for its last statement to read.
DROP TABLE IF EXISTS pair_texts;
DROP TABLE IF EXISTS pair_counts;
