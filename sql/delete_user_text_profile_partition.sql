DELETE FROM ml.user_text_profile WHERE profile_date = $day;
