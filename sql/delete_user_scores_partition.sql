DELETE FROM ml.user_scores WHERE score_date = $day;
