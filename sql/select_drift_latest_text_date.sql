-- The latest day of text occurrences: the "current" side of the text centroid shift.
SELECT max(event_date) FROM ml.text_occurrences;
