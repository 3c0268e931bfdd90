-- Interest vectors of one text_encoder version at the latest profile day on or before $day.
SELECT user_id, interest
FROM ml.user_text_profile
WHERE model_version = $version
  AND profile_date = (SELECT max(profile_date) FROM ml.user_text_profile
                      WHERE model_version = $version AND profile_date <= $day::DATE)
ORDER BY user_id;
