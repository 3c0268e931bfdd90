-- The segment mix of the $days days of profiles ending at $day (the user_profiles picture):
-- profiled users per day and segment, '(no segment)' for users without one.
SELECT profile_date, coalesce(segment_name, '(no segment)') AS segment, count(*) AS users
FROM profiles.user_profiles_history
WHERE profile_date BETWEEN $day::DATE - ($days::INTEGER - 1) AND $day::DATE
GROUP BY ALL
ORDER BY profile_date, users DESC, segment;
