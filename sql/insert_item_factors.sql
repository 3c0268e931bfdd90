-- From the registered frame new_item_factors.
INSERT INTO ml.item_factors
SELECT $version, product_id, item_index, factors::FLOAT[], users, purchasers, popularity_rank
FROM new_item_factors;
