-- Collaborative factors (svd_model's apply assets): user factors, item factors, recommendations.
CREATE SCHEMA IF NOT EXISTS ml;
