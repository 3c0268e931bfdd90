DELETE FROM ml.segments WHERE model_version = $version;
