-- The users recommended to on $day: every user of the day's profile window (user_features:
-- active in the 90 days ending $day) plus the day's active users (so that a day whose features
-- are not built yet still covers them); profiled says which came from user_features.
SELECT user_id, bool_or(profiled) AS profiled
FROM (SELECT user_id, true AS profiled FROM features.user_features WHERE feature_date = $day::DATE
      UNION ALL
      SELECT DISTINCT user_id, false FROM clean.events WHERE event_date = $day::DATE)
GROUP BY user_id
ORDER BY user_id;
