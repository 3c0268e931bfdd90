-- Non-NULL values per column of the day's profiles: a column at 0 is empty for everyone,
-- which the asset reports next to the inputs the data lacked.
SELECT count(*) AS "rows", count(COLUMNS(*))
FROM profiles.user_profiles_history
WHERE profile_date = $day
