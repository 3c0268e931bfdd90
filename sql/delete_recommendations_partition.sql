DELETE FROM ml.recommendations WHERE rec_date = $day::DATE;
