-- What a published copy records about itself: newest profile day, latest rows, history rows.
SELECT profile_date, user_profiles_rows, history_rows FROM published;
