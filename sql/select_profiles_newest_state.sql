-- What the analysts' copy must show: the newest profile day, the latest-row count and the
-- history rows of the 90 days ending on the newest day (compared by published_copy_matches).
SELECT (SELECT max(profile_date) FROM profiles.user_profiles_history) AS newest_day,
       (SELECT count(*) FROM profiles.user_profiles) AS latest_rows,
       (SELECT count(*) FROM profiles.user_profiles_history
        WHERE profile_date > (SELECT max(profile_date) FROM profiles.user_profiles_history) - 90)
           AS history_rows;
