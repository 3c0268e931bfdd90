-- Occurrences in the profile window: how many passes select_text_window needs.
SELECT count(*)
FROM ml.text_occurrences
WHERE event_date BETWEEN $day::DATE - ($window_days - 1) AND $day::DATE;
