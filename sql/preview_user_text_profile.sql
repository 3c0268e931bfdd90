-- Run-log preview: ids and aggregates only, never registration attributes (age, gender,
-- city, signup date, e-mail, phone) or free text (docs/privacy.md).
SELECT user_id, texts, queries, reviews, products, top_interests, top_interest_scores, last_text_date
FROM ml.user_text_profile
WHERE profile_date = $day
ORDER BY texts DESC, user_id
LIMIT 10;
