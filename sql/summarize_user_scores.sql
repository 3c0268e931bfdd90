-- One day of scores: users, how many each target scored, and the mean of each score.
SELECT count(*) AS users,
       count(purchase_propensity_14d) AS purchase_scored,
       count(churn_risk_30d) AS churn_scored,
       count(expected_spend_90d) AS spend_scored,
       avg(purchase_propensity_14d) AS mean_purchase_propensity,
       avg(churn_risk_30d) AS mean_churn_risk,
       sum(expected_spend_90d) AS total_expected_spend
FROM ml.user_scores
WHERE score_date = $day;
