INSERT INTO ml.user_text_profile
SELECT $day::DATE, user_id, $version, texts, queries, reviews, products,
       interest::FLOAT[384], top_interests, top_interest_scores, last_text_date
FROM new_user_text_profile;
