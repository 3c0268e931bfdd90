UPDATE ml.model_registry
SET status = 'retired', status_reason = $reason, status_changed_at = $now
WHERE model_name = $model_name AND status = 'production';
