SELECT user_id, round(purchase_propensity_14d, 3) AS purchase_14d, purchase_propensity_decile AS p_decile,
       round(churn_risk_30d, 3) AS churn_30d, churn_risk_decile AS c_decile,
       round(expected_spend_90d, 2) AS spend_90d, score_drivers[1].text AS top_driver,
       score_missing_reason
FROM ml.user_scores
WHERE score_date = $day
ORDER BY purchase_propensity_14d DESC NULLS LAST, user_id
LIMIT 10;
