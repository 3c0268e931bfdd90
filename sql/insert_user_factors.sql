-- From the registered frame new_user_factors.
INSERT INTO ml.user_factors
SELECT $day::DATE, user_id, $version, factors::FLOAT[], known_items, unknown_items, $now
FROM new_user_factors;
