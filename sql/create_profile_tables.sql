-- The final profile: one row per user per day (history) and the latest row per user. A day is
-- replaced whole, so (profile_date, user_id) is unique by construction; it has no primary key
-- (see KEYLESS_TABLES in resources.py), and the one_profile_per_user check counts duplicates.
CREATE SCHEMA IF NOT EXISTS profiles;

CREATE TABLE IF NOT EXISTS profiles.user_profiles_history (
    profile_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    signup_date DATE,
    age_band VARCHAR,
    gender VARCHAR,
    city VARCHAR,
    first_seen_date DATE NOT NULL,
    last_seen_date DATE NOT NULL,
    last_purchase_date DATE,
    days_since_last_visit INTEGER NOT NULL,
    days_since_last_purchase INTEGER,
    orders_90d INTEGER NOT NULL,
    revenue_90d DOUBLE NOT NULL,
    rfm_recency INTEGER NOT NULL,
    rfm_frequency INTEGER NOT NULL,
    rfm_monetary INTEGER NOT NULL,
    rfm_code VARCHAR NOT NULL,
    aov_90d DOUBLE,
    lifetime_value DOUBLE NOT NULL,
    lifetime_value_since DATE NOT NULL,
    top_categories STRUCT(name VARCHAR, share DOUBLE)[],
    top_category VARCHAR,
    top_brands STRUCT(name VARCHAR, share DOUBLE)[],
    top_brand VARCHAR,
    price_ratio_90d DOUBLE,
    share_below_median_90d DOUBLE,
    price_sensitivity VARCHAR,
    preferred_hour_band VARCHAR,
    preferred_weekday VARCHAR,
    segment_id INTEGER,
    segment_name VARCHAR,
    segment_confidence DOUBLE,
    interest_keywords VARCHAR[],
    recommended_items VARCHAR[],
    recommendation_source VARCHAR,
    text_encoder_version VARCHAR,
    svd_model_version VARCHAR,
    segment_model_version VARCHAR,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS profiles.user_profiles AS
SELECT * FROM profiles.user_profiles_history WITH NO DATA;

-- Predictive traits (user_scores), added to warehouses created before them; a fresh
-- warehouse gets them the same way, so both keep one column order.
ALTER TABLE profiles.user_profiles_history ADD COLUMN IF NOT EXISTS purchase_propensity_14d DOUBLE;
ALTER TABLE profiles.user_profiles_history ADD COLUMN IF NOT EXISTS purchase_propensity_decile INTEGER;
ALTER TABLE profiles.user_profiles_history ADD COLUMN IF NOT EXISTS churn_risk_30d DOUBLE;
ALTER TABLE profiles.user_profiles_history ADD COLUMN IF NOT EXISTS churn_risk_decile INTEGER;
ALTER TABLE profiles.user_profiles_history ADD COLUMN IF NOT EXISTS expected_spend_90d DOUBLE;
ALTER TABLE profiles.user_profiles_history ADD COLUMN IF NOT EXISTS expected_spend_decile INTEGER;
ALTER TABLE profiles.user_profiles_history ADD COLUMN IF NOT EXISTS score_drivers
    STRUCT(target VARCHAR, feature VARCHAR, value DOUBLE, contribution DOUBLE, text VARCHAR)[];
ALTER TABLE profiles.user_profiles_history ADD COLUMN IF NOT EXISTS score_missing_reason VARCHAR;
ALTER TABLE profiles.user_profiles_history ADD COLUMN IF NOT EXISTS purchase_model_version VARCHAR;
ALTER TABLE profiles.user_profiles_history ADD COLUMN IF NOT EXISTS churn_model_version VARCHAR;
ALTER TABLE profiles.user_profiles_history ADD COLUMN IF NOT EXISTS spend_model_version VARCHAR;
ALTER TABLE profiles.user_profiles ADD COLUMN IF NOT EXISTS purchase_propensity_14d DOUBLE;
ALTER TABLE profiles.user_profiles ADD COLUMN IF NOT EXISTS purchase_propensity_decile INTEGER;
ALTER TABLE profiles.user_profiles ADD COLUMN IF NOT EXISTS churn_risk_30d DOUBLE;
ALTER TABLE profiles.user_profiles ADD COLUMN IF NOT EXISTS churn_risk_decile INTEGER;
ALTER TABLE profiles.user_profiles ADD COLUMN IF NOT EXISTS expected_spend_90d DOUBLE;
ALTER TABLE profiles.user_profiles ADD COLUMN IF NOT EXISTS expected_spend_decile INTEGER;
ALTER TABLE profiles.user_profiles ADD COLUMN IF NOT EXISTS score_drivers
    STRUCT(target VARCHAR, feature VARCHAR, value DOUBLE, contribution DOUBLE, text VARCHAR)[];
ALTER TABLE profiles.user_profiles ADD COLUMN IF NOT EXISTS score_missing_reason VARCHAR;
ALTER TABLE profiles.user_profiles ADD COLUMN IF NOT EXISTS purchase_model_version VARCHAR;
ALTER TABLE profiles.user_profiles ADD COLUMN IF NOT EXISTS churn_model_version VARCHAR;
ALTER TABLE profiles.user_profiles ADD COLUMN IF NOT EXISTS spend_model_version VARCHAR;
