-- The analysts' copy's history brought up to date in `pub`, a copy of the previous publish:
-- a day of the 90-day window whose rows the copy already holds as the warehouse does (the
-- same count and the same build times; a rebuilt or forgotten-from day differs) is kept, every
-- other day of the copy goes, and the window's other days are written from the warehouse. A
-- daily run so writes one day of history, not 90. The other tables are written afresh
-- (publish_profiles).
CREATE OR REPLACE TEMP TABLE published_kept_days AS
SELECT profile_date, count(*) AS rows, min(updated_at) AS first_update, max(updated_at) AS last_update
FROM profiles.user_profiles_history
WHERE profile_date > (SELECT max(profile_date) FROM profiles.user_profiles_history) - 90
GROUP BY profile_date
INTERSECT
SELECT profile_date, count(*), min(updated_at), max(updated_at)
FROM pub.user_profiles_history
GROUP BY profile_date;

DELETE FROM pub.user_profiles_history
WHERE profile_date NOT IN (SELECT profile_date FROM published_kept_days);

INSERT INTO pub.user_profiles_history
SELECT * FROM profiles.user_profiles_history
WHERE profile_date > (SELECT max(profile_date) FROM profiles.user_profiles_history) - 90
  AND profile_date NOT IN (SELECT profile_date FROM published_kept_days)
ORDER BY profile_date, user_id;

DROP TABLE published_kept_days;
DROP TABLE pub.user_profiles;
DROP TABLE pub.segments;
DROP TABLE pub.recommendations;
DROP TABLE pub.published;
