SELECT coalesce(segment_name, '(no segment)'), count(*), avg(lifetime_value)
FROM profiles.user_profiles_history
WHERE profile_date = $day
GROUP BY ALL
ORDER BY 2 DESC;
