-- The day's scores from the registered Arrow table new_user_scores.
INSERT INTO ml.user_scores
SELECT $day, user_id,
       purchase_propensity_14d, purchase_propensity_decile::INTEGER,
       churn_risk_30d, churn_risk_decile::INTEGER,
       expected_spend_90d, expected_spend_decile::INTEGER,
       score_drivers,
       purchase_model_version, churn_model_version, spend_model_version,
       score_missing_reason, $now
FROM new_user_scores;
