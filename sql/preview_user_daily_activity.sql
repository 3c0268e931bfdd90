SELECT * EXCLUDE (computed_at)
FROM features.user_daily_activity
WHERE activity_date = $day
ORDER BY events DESC, user_id
LIMIT 5;
