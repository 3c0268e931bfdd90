-- Run-log preview: ids and aggregates only, never registration attributes (age, gender,
-- city, signup date, e-mail, phone) or free text (docs/privacy.md).
SELECT user_id, rfm_code, round(lifetime_value, 2) AS lifetime_value, segment_name,
       round(segment_confidence, 2) AS confidence, top_category, interest_keywords,
       recommended_items[1:3] AS top_recommendations,
       round(purchase_propensity_14d, 3) AS purchase_14d, round(churn_risk_30d, 3) AS churn_30d
FROM profiles.user_profiles_history
WHERE profile_date = $day
ORDER BY lifetime_value DESC, user_id
LIMIT 10;
