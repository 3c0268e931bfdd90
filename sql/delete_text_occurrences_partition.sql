DELETE FROM ml.text_occurrences WHERE event_date = $day;
