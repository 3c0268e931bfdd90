-- Predictive traits per user and day (user_scores), from the production propensity models.
CREATE SCHEMA IF NOT EXISTS ml;

CREATE TABLE IF NOT EXISTS ml.user_scores (
    score_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    purchase_propensity_14d DOUBLE,     -- calibrated probability of a purchase in the window
    purchase_propensity_decile INTEGER, -- 1..10 among the day's scored users (10: highest)
    churn_risk_30d DOUBLE,              -- calibrated probability of no activity in the window
    churn_risk_decile INTEGER,
    expected_spend_90d DOUBLE,          -- predicted net revenue in the window
    expected_spend_decile INTEGER,
    score_drivers STRUCT(target VARCHAR, feature VARCHAR, value DOUBLE, contribution DOUBLE,
                         text VARCHAR)[],  -- top 3 per scored target, largest effect first
    purchase_model_version VARCHAR,
    churn_model_version VARCHAR,
    spend_model_version VARCHAR,
    score_missing_reason VARCHAR,       -- why a score is NULL; NULL when every target is scored
    computed_at TIMESTAMP NOT NULL
);
