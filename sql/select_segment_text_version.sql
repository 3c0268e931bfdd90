-- The text_encoder version behind the latest interest vectors on or before $day.
SELECT model_version FROM ml.user_text_profile
WHERE profile_date <= $day::DATE
ORDER BY profile_date DESC, model_version DESC LIMIT 1;
