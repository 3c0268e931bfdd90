-- From the registered frame new_recommendations.
INSERT INTO ml.recommendations
SELECT $day::DATE, user_id, rank, product_id, score, source, $version, $now
FROM new_recommendations;
