-- Users with any clean event on $day: the users that day's factors and recommendations cover.
SELECT DISTINCT user_id FROM clean.events WHERE event_date = $day::DATE;
