-- The analysts' copy, written into the attached database `pub` (a 1.x-readable storage
-- version) once its history holds the 90 days ending on the newest profile day
-- (publish_profiles_history or update_published_history). It always shows the warehouse's
-- newest state, whatever day the run built: the latest profile per user, the production
-- segments and each user's latest recommendations of the 30 days ending then, plus what was
-- published when, in which storage version.
CREATE TABLE pub.user_profiles AS
SELECT * FROM profiles.user_profiles ORDER BY user_id;

CREATE TABLE pub.segments AS
SELECT s.segment_id, s.segment_name, s.description, s.size, s.model_version
FROM ml.segments s
WHERE s.model_version IN (SELECT DISTINCT segment_model_version FROM profiles.user_profiles)
ORDER BY s.model_version, s.segment_id;

CREATE TABLE pub.recommendations AS
WITH newest AS (
    SELECT max(profile_date) AS day FROM profiles.user_profiles_history
), latest AS (
    SELECT user_id, max(rec_date) AS rec_date FROM ml.recommendations, newest
    WHERE rec_date BETWEEN newest.day - 29 AND newest.day GROUP BY user_id
)
SELECT r.user_id, r.rec_date, r.rank, r.product_id, p.title, p.category, p.price, r.score,
       r.source, r.model_version
FROM ml.recommendations r
JOIN latest USING (user_id, rec_date)
LEFT JOIN raw.products p USING (product_id)
ORDER BY r.user_id, r.rank;

CREATE TABLE pub.published AS
SELECT (SELECT max(profile_date) FROM pub.user_profiles_history) AS profile_date,
       $now::TIMESTAMP AS published_at,
       (SELECT count(*) FROM pub.user_profiles) AS user_profiles_rows,
       (SELECT count(*) FROM pub.user_profiles_history) AS history_rows,
       $storage_version AS storage_version;
