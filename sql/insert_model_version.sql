INSERT INTO ml.model_registry
VALUES ($model_name, $version, $trained_at, $window_start, $window_end, $metrics, $config,
        $artifact_path, $status, 'fitted', $now);
