-- The latest profile per user: the day's rows replace each of its users' older rows; a
-- user's newer row (a later day built earlier) is left alone.
DELETE FROM profiles.user_profiles p
WHERE p.profile_date <= $day
  AND p.user_id IN (SELECT user_id FROM profiles.user_profiles_history WHERE profile_date = $day);

INSERT INTO profiles.user_profiles
SELECT h.* FROM profiles.user_profiles_history h
WHERE h.profile_date = $day
  AND NOT EXISTS (SELECT 1 FROM profiles.user_profiles p WHERE p.user_id = h.user_id);
