-- Users per RFM code on one feature day (the most common are shown in the UI).
SELECT rfm_code, count(*) FROM features.user_features WHERE feature_date = $day GROUP BY 1;
