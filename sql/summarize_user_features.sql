SELECT count(*) AS users, count(last_purchase_date) AS purchasers,
       count(*) FILTER (WHERE signup_date IS NULL) AS without_signup
FROM features.user_features
WHERE feature_date = $day;
