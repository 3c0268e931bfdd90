DELETE FROM features.user_features WHERE feature_date = $day;
DELETE FROM features.rfm_edges WHERE feature_date = $day;
