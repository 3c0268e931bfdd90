SELECT model_name, version, trained_at, window_start, window_end, metrics, config, artifact_path, status
FROM ml.model_registry
WHERE $model_name IS NULL OR model_name = $model_name
ORDER BY model_name, trained_at DESC, version DESC;
