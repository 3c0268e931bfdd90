-- Figures behind the user_profiles checks for $day.
SELECT
    (SELECT count(*) FROM profiles.user_profiles_history WHERE profile_date = $day) AS rows,
    (SELECT count(*) - count(DISTINCT user_id) FROM profiles.user_profiles) AS duplicate_latest,
    (SELECT count(*) FROM features.user_features WHERE feature_date = $day) AS feature_users,
    (SELECT count(*) FROM profiles.user_profiles_history
     WHERE profile_date = $day AND segment_id IS NULL) AS without_segment,
    (SELECT count(*) FROM profiles.user_profiles_history
     WHERE profile_date = $day
       AND ((segment_id IS NOT NULL AND segment_model_version IS NULL)
            OR (interest_keywords IS NOT NULL AND text_encoder_version IS NULL)
            OR (recommended_items IS NOT NULL AND svd_model_version IS NULL)
            OR (purchase_propensity_14d IS NOT NULL AND purchase_model_version IS NULL)
            OR (churn_risk_30d IS NOT NULL AND churn_model_version IS NULL)
            OR (expected_spend_90d IS NOT NULL AND spend_model_version IS NULL))) AS without_versions,
    (SELECT count(*) FROM profiles.user_profiles) AS latest_rows;
