-- The analysts' copy's history, written afresh into the newly attached database `pub`: the
-- 90 days of profiles ending on the newest profile day, in day and user order.
CREATE TABLE pub.user_profiles_history AS
SELECT * FROM profiles.user_profiles_history
WHERE profile_date > (SELECT max(profile_date) FROM profiles.user_profiles_history) - 90
ORDER BY profile_date, user_id;
