DELETE FROM ml.item_factors WHERE model_version = $version;
