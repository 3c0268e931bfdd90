-- Five registrations for the run's metadata: the id and which attributes are filled, never
-- the attributes themselves (age, gender, city, e-mail and phone stay in raw.users).
SELECT user_id, signup_date IS NOT NULL AS has_signup_date, age IS NOT NULL AS has_age,
       gender IS NOT NULL AS has_gender, city IS NOT NULL AS has_city,
       email IS NOT NULL AS has_email, phone IS NOT NULL AS has_phone
FROM raw.users
ORDER BY user_id
LIMIT 5
